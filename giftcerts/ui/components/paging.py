"""Keyset paging for dashboard lists: one mixin shared by every list page's State."""

from __future__ import annotations

import reflex as rx


class KeysetPages(rx.State, mixin=True):
    """Previous/Next over keyset cursors. The list State implements `_load()` for the
    current cursor (checking who is asking, like every handler) and sets `next_cursor`."""

    # Cursors of the pages before the current one, so "Previous" can walk back.
    previous_cursors: list[str] = []
    current_cursor: str = ""
    next_cursor: str = ""

    @rx.var
    def page_number(self) -> int:
        return len(self.previous_cursors) + 1

    def _load(self):
        raise NotImplementedError

    def _first_page(self):
        self.previous_cursors, self.current_cursor = [], ""
        return self._load()

    @rx.event
    def next_page(self):
        if self.next_cursor:
            self.previous_cursors = [*self.previous_cursors, self.current_cursor]
            self.current_cursor = self.next_cursor
        return self._load()

    @rx.event
    def previous_page(self):
        if self.previous_cursors:
            self.current_cursor = self.previous_cursors[-1]
            self.previous_cursors = self.previous_cursors[:-1]
        return self._load()
