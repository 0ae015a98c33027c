// Every pushed event type and the state update it makes (as Zulip's server_events_dispatch): the one place a
// pushed event changes the page. Updates change `state` and repaint what shows it; none asks the server again
// for what the push carried. Frames other than `event` (badges, presence, typing) have their own line below.
import {
  applyPresence, applyTyping, applyUnread, noteWhileOpening, onConversationChanged, onMembershipChanged,
  onMessageDeleted, onMessageEdited, onMessagePosted, onReadMarkerMoved,
} from "/static/chat.js";
import { applyIssueEvent } from "/static/issue-lists.js";

const nothing = () => {};

const EVENT_UPDATES = {
  "chat.message_posted": onMessagePosted,
  "chat.message_edited": onMessageEdited,
  "chat.message_deleted": onMessageDeleted,
  "chat.read_marker_moved": onReadMarkerMoved,
  "chat.membership_changed": onMembershipChanged,
  "chat.conversation_created": onConversationChanged,
  "chat.conversation_updated": onConversationChanged,
  "chat.reading_position_saved": nothing,   // where this person is: this page knows already
  // Every issue event carries the issue's state after the change: the feed, the tracker and the open issue take it.
  "issue.opened": applyIssueEvent,
  "issue.message_appended": applyIssueEvent,
  "issue.assigned": applyIssueEvent,
  "issue.comment_added": applyIssueEvent,
  "issue.replied": applyIssueEvent,
  "issue.reply_status_changed": applyIssueEvent,
  "issue.closed": applyIssueEvent,
  "issue.resolved": applyIssueEvent,
  "issue.reopened": applyIssueEvent,
};

export function applyEvent(state, frame) {
  // An issue event of a type newer than this page still carries the issue's state (the contract says so).
  const update = EVENT_UPDATES[frame.type] || (frame.type?.startsWith("issue.") ? applyIssueEvent : null);
  if (!update) return;
  if (frame.type.startsWith("chat.")) noteWhileOpening(state, frame);
  update(state, frame);
}

export const FRAME_UPDATES = {
  event: applyEvent,
  unread: applyUnread,
  unread_snapshot: applyUnread,
  presence: applyPresence,
  presence_snapshot: applyPresence,
  typing: applyTyping,
};
