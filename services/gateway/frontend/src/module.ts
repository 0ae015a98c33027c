// Starting and ending the signed-in module: stores loaded, the live connection up, the module reopened where the
// person left off; and on sign-out (here or by the server) nothing of theirs left on screen.
import { useIssuesStore } from "@/issues/store";
import { live, installFrameTable } from "@/live";
import { parseHash, replaceRoute } from "@/router";
import { useAttentionStore } from "@/stores/attention";
import { useChatStore } from "@/stores/chat";
import { useSessionStore } from "@/stores/session";

export async function startModule(): Promise<void> {
  const session = useSessionStore();
  const chat = useChatStore();
  const me = session.me;
  if (!me) return;
  useAttentionStore().useSettingsOf(me.tenant_id, me.staff_id);
  installFrameTable();
  live.configure({
    onResync: () => {
      void chat.resync();
      void useIssuesStore().reload();
    },
    onSessionEnded: () => void endModule({ server: false }),
  });
  live.start();
  void useIssuesStore().start().catch(() => undefined);
  try {
    await chat.refreshConversations();
    const asked = parseHash(location.hash).name !== "none" ? location.hash : null;
    const target = asked ?? (await chat.savedPosition()) ?? "#feed";
    // reopen where the person left off, unless they went somewhere while that was being looked up
    if (!asked && parseHash(location.hash).name !== "none") return;
    if (!asked) replaceRoute(target);
  } finally {
    live.markReady();
  }
}

export async function endModule({ server = true }: { server?: boolean } = {}): Promise<void> {
  live.stop();
  useChatStore().reset();
  useAttentionStore().reset();
  useIssuesStore().reset();
  await useSessionStore().signOut({ server });
  replaceRoute("");
}
