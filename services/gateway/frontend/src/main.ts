import { createPinia } from "pinia";
import { createApp } from "vue";
import App from "./App.vue";
import { live } from "./live";
import { useChatStore } from "./stores/chat";
import { useSessionStore } from "./stores/session";
import "./styles/theme.css";
import "./styles/app.css";

const pinia = createPinia();
createApp(App).use(pinia).mount("#app");

// For looking at the state in the browser's console (and for the browser tests): the live socket and who I am.
Object.defineProperty(window, "relayState", {
  configurable: true,
  get: () => ({ socket: live.socket, me: useSessionStore(pinia).me, chat: useChatStore(pinia) }),
});
