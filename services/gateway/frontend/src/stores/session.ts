// Who is signed in, and the tenant's staff (for names, assigning and private messages).
import { defineStore } from "pinia";
import { computed, ref } from "vue";
import { api, ApiError } from "@/api";

export type Role = "staff" | "manager" | "admin";

export interface Me {
  staff_id: string;
  display_name: string;
  username: string;
  role: Role | string;
  tenant_id: string;
}

export interface StaffMember {
  staff_id: string;
  username: string;
  display_name: string;
  role: Role | string;
}

export interface SignInForm {
  tenant: string;
  username: string;
  password: string;
  code?: string;
}

interface SessionAnswer {
  tenant_id: string;
  staff: { staff_id: string; display_name: string; role: string; username?: string };
}

export const useSessionStore = defineStore("session", () => {
  const me = ref<Me | null>(null);
  const staff = ref<StaffMember[]>([]);
  /** Whether the first look for an open session has finished (sign-in shows only after it). */
  const checked = ref(false);

  const isManager = computed(() => me.value?.role === "manager" || me.value?.role === "admin");
  const isAdmin = computed(() => me.value?.role === "admin");

  function staffName(id: string | null | undefined): string {
    if (!id) return "";
    return staff.value.find((s) => s.staff_id === id)?.display_name ?? "";
  }

  function colleagues(): StaffMember[] {
    return staff.value.filter((s) => s.staff_id !== me.value?.staff_id);
  }

  function adopt(answer: SessionAnswer, username?: string): void {
    const known = staff.value.find((s) => s.staff_id === answer.staff.staff_id);
    me.value = {
      staff_id: answer.staff.staff_id,
      display_name: answer.staff.display_name,
      username: answer.staff.username ?? username ?? known?.username ?? "",
      role: answer.staff.role,
      tenant_id: answer.tenant_id,
    };
  }

  async function loadStaff(): Promise<void> {
    const body = await api<{ staff: StaffMember[] }>("GET", "/api/staff");
    staff.value = body.staff ?? [];
    const mine = staff.value.find((s) => s.staff_id === me.value?.staff_id);
    if (me.value && !me.value.username && mine) me.value.username = mine.username;
  }

  /** Resume an open session (the cookie); false when there is none. */
  async function resume(): Promise<boolean> {
    try {
      adopt(await api<SessionAnswer>("GET", "/api/session"));
      await loadStaff().catch(() => undefined);
      return true;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      me.value = null;
      return false;
    } finally {
      checked.value = true;
    }
  }

  /** Sign in; the server's refusal (wrong password, two-factor code needed) is thrown as an ApiError. */
  async function signIn(form?: SignInForm): Promise<void> {
    if (form) {
      const body: Record<string, string> = { tenant: form.tenant, username: form.username, password: form.password };
      if (form.code) body.code = form.code;
      await api("POST", "/api/session", body);
    }
    if (!(await resume())) throw new ApiError(401, "Could not sign in.");
  }

  /** End this session on the server (if it still is open) and forget who was signed in. */
  async function signOut({ server = true }: { server?: boolean } = {}): Promise<void> {
    if (server) await api("DELETE", "/api/session").catch(() => null);
    me.value = null;
    staff.value = [];
  }

  return { me, staff, checked, isManager, isAdmin, staffName, colleagues, resume, signIn, signOut, loadStaff };
});
