"""A conversation written out: Markdown to share or paste elsewhere, JSON that keeps the whole tree.

Exporting only reads. :class:`~slmdesk.core.conversations.store.ConversationStore` gathers the records
(``export_markdown``, ``export_json``) and these functions decide what the result looks like, so a
change of export format never touches how conversations are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slmdesk.core.conversations.store import Conversation, Message

EXPORT_FORMAT = "slmdesk.conversation"


def conversation_markdown(conv: Conversation, thread: list[Message]) -> str:
    """The visible thread (root to active leaf) as Markdown, headed by the title and system prompt."""
    parts = [f"# {conv.title}"]
    if conv.system_prompt.strip():
        parts.append("## System prompt\n\n" + conv.system_prompt.strip())
    for msg in thread:
        heading = f"## {msg.role.capitalize()}"
        if msg.status != "complete":
            heading += f" ({msg.status})"
        parts.append(f"{heading}\n\n{msg.content.strip()}")
    return "\n\n".join(parts) + "\n"


def conversation_json(conv: Conversation, messages: list[Message], model_name: str | None) -> dict[str, Any]:
    """Every message of the tree (oldest first) with the conversation's settings, so nothing is lost."""
    return {
        "format": EXPORT_FORMAT, "version": 1,
        "conversation": {
            "id": conv.id, "title": conv.title, "title_is_auto": conv.title_is_auto,
            "system_prompt": conv.system_prompt, "model_id": conv.model_id,
            "model_name": model_name,
            "adapter": conv.adapter, "settings": conv.settings,
            "created_at": conv.created_at, "updated_at": conv.updated_at,
            "active_leaf_id": conv.active_leaf_id},
        "messages": [
            {"id": m.id, "parent_id": m.parent_id, "role": m.role, "content": m.content,
             "status": m.status, "created_at": m.created_at, "updated_at": m.updated_at,
             "metadata": m.metadata} for m in messages],
    }
