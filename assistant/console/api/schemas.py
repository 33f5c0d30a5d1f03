"""Request bodies that more than one router accepts."""

from __future__ import annotations

from pydantic import BaseModel, Field

from conversation.limits import MAX_MESSAGE_CHARS


# A message a staff member writes: a chat turn as a user, or a reply to a user. (A comment,
# not a docstring: pydantic would put a docstring into the OpenAPI schema.)
class TextRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
