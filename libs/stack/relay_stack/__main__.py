"""`python -m relay_stack run`: Relay embedded, with the demo tenant, until Ctrl-C; `… simulate`: play its customer."""

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from relay_stack import demo, simulate
from relay_stack.ports import free_port
from relay_stack.sandbox import ProviderSandbox
from relay_stack.stack import DEFAULT_PORTS, Stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relay_stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start broker, services, gateway and demo data")
    run.add_argument("--port", type=int, default=int(os.environ.get("RELAY_GATEWAY_PORT", 8000)),
                     help="the gateway's port (default 8000)")
    run.add_argument("--log-dir", type=Path, default=Path(".relay/logs"), help="where each process logs")
    run.add_argument("--data-dir", type=Path, default=Path(os.environ.get("RELAY_DATA_ROOT", ".relay/data")),
                     help="where each service keeps its embedded data, one folder per service "
                          "(default .relay/data, or RELAY_DATA_ROOT)")
    run.add_argument("--fresh", action="store_true", help="wipe the data folder first: start with no data")
    played = sub.add_parser("simulate", help="send a customer's SMS or email to the running stack, print the replies")
    simulate.add_arguments(played)
    args = parser.parse_args(argv)
    if args.command == "simulate":
        return simulate.run(args)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for chatty in ("httpx", "mail.log"):  # each HTTP call and SMTP session of the runner itself: not news here
        logging.getLogger(chatty).setLevel(logging.WARNING)

    if args.fresh and args.data_dir.exists():
        shutil.rmtree(args.data_dir)
        print(f"Wiped {args.data_dir}/ (--fresh).", flush=True)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    sandbox = ProviderSandbox().start()
    # The gateway is the one address people use; the services behind it take any free port.
    ports = {name: free_port() for name in DEFAULT_PORTS} | {"gateway": args.port}
    stack = Stack(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        ports=ports,
        log_dir=args.log_dir,
        jwt_secret=os.environ.get("RELAY_JWT_SECRET", "relay-dev-secret-change-me-in-production"),
        admin_token=os.environ.get("RELAY_ADMIN_TOKEN", "relay-dev-admin-token"),
        data_dir=args.data_dir,
        extra_env={"RELAY_SANDBOX_URL": sandbox.url},  # the gateway's /sandbox page: embedded mode only
    )
    state = simulate.state_path(args.data_dir)
    print(f"Starting Relay (logs in {args.log_dir}/, data in {args.data_dir}/) ...", flush=True)
    stopped = threading.Event()
    try:
        stack.start()
        secrets = demo.ProviderSecrets(
            twilio_api_base_url=sandbox.twilio_url, smtp_host="127.0.0.1", smtp_port=sandbox.smtp_port
        )
        tenant = demo.seed(gateway_url=stack.gateway_url, admin_token=stack.admin_token, secrets=secrets)
        shop = simulate.Shop.from_secrets(secrets, gateway_url=stack.gateway_url, tenant_id=tenant.tenant_id,
                                          sandbox_url=sandbox.url)
        sandbox.connect(shop, suggestions=demo.sandbox_suggestions())
        simulate.save_state(state, shop, pid=os.getpid())
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        print(banner(stack, tenant, sandbox, state=state), flush=True)
        stopped.wait()
    except KeyboardInterrupt:
        print("\nInterrupted while starting.", flush=True)
        return 130
    finally:
        print("\nStopping Relay ...", flush=True)
        simulate.remove_state(state, pid=os.getpid())
        stack.stop()
        sandbox.stop()
        print("Stopped.", flush=True)
    return 0


def banner(stack: Stack, tenant: demo.DemoTenant, sandbox: ProviderSandbox, *, state: Path | None = None) -> str:
    """What a person needs to try Relay: the address, sign-ins, webhook URLs and secrets."""
    base = stack.gateway_url
    t = tenant.tenant_id
    s = tenant.secrets
    services = "\n".join(f"    {name:<8} {stack.url(name)}" for name in stack.services)
    staff = "\n".join(f"    {m.username:<6} ({m.display_name}, {m.role})" for m in tenant.staff)
    python = _python()
    return f"""
Relay is running: {base}
  Sign in to tenant '{t}' with password '{demo.PASSWORD}' as:
{staff}

  Provider webhooks for tenant '{t}':
    Twilio SMS       POST {base}/webhooks/{t}/twilio/sms      (X-Twilio-Signature, auth token '{s.twilio_auth_token}')
    Twilio status    POST {base}/webhooks/{t}/twilio/status   (same signature scheme)
    SendGrid email   POST {base}/webhooks/{t}/sendgrid/inbound (basic auth {s.sendgrid_user}:{s.sendgrid_password})
    Mailgun email    POST {base}/webhooks/{t}/mailgun/inbound  (signing key '{s.mailgun_signing_key}')

  Admin API (Authorization: Bearer $RELAY_ADMIN_TOKEN, by default 'relay-dev-admin-token'):
    PUT {base}/api/admin/tenants/<tenant> (name, provider settings) and …/staff/<username>
  API documents: {base}/api/docs/<service>/openapi.json and …/asyncapi.json

  Replies go to a local provider sandbox: SMS to {sandbox.twilio_url}, email to SMTP 127.0.0.1:{sandbox.smtp_port};
  each one sent is printed here.
  Play the customer: {base}/sandbox in a browser, or
    {python} -m relay_stack simulate sms --from +12025550143 "Is my coat ready?"
    {python} -m relay_stack simulate email --from jane.doe@example.com --subject "My coat" "Is it ready?"
  (they read {state or simulate.state_path()}, written now with the demo tenant's secrets, mode 0600)
  Data: {stack.data_dir}/<service> (kept across restarts; `make run-fresh` starts empty). A process that dies
  is restarted by the supervisor, reported here.
  Broker: {stack.bootstrap_servers}   Metrics: {base}/metrics and each service's /metrics:
{services}
Press Ctrl-C to stop.
"""


def _python() -> str:
    """This interpreter as a person would type it here (`.venv/bin/python` in a checkout)."""
    here = Path.cwd()
    interpreter = Path(sys.executable)
    return str(interpreter.relative_to(here)) if interpreter.is_relative_to(here) else "python"


if __name__ == "__main__":
    sys.exit(main())
