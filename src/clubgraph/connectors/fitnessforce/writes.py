"""FitnessForce UFP writes: invoice and membership operations the mutations build on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...domain import InvoiceRecord, Key, Source, SubscriptionRecord
from ...errors import UpstreamNotFound
from ...http import UpstreamHTTP
from .mapping import key_ids, map_invoice, map_subscription
from .types import ChannelResult


class FitnessForceWrites:
    """Write operations, mixed into the connector that owns ``http``."""

    http: UpstreamHTTP

    async def void_invoice(self, key: Key, reason: str) -> InvoiceRecord:
        """Void an invoice that has no payments."""
        raw = await self.http.request(
            "POST", self._path(key, "invoices") + "/void", json={"reason": reason}
        )
        return map_invoice(raw, key.tenant)

    async def send_invoice_clear_balance_link(
        self, key: Key, channels: Sequence[str]
    ) -> list[ChannelResult]:
        """Send the client a link to pay the invoice's balance; one result per channel."""
        path = self._path(key, "invoices") + "/send_invoice_clear_balance_link"
        result: list[ChannelResult] = await self.http.request("POST", path, json=list(channels))
        return result

    async def cancel_subscription(
        self, key: Key, reason: str, cancellation_date: str | None = None
    ) -> SubscriptionRecord:
        """Cancel a membership now or at ``cancellation_date`` (YYYY-MM-DD)."""
        body: dict[str, str] = {"reason": reason}
        if cancellation_date is not None:
            body["cancellation_date"] = cancellation_date
        path = self._path(key, "subscriptions") + "/cancel"
        return map_subscription(await self.http.request("POST", path, json=body), key.tenant)

    async def freeze_subscription(
        self, key: Key, start: str, end: str, reason: str
    ) -> dict[str, Any]:
        """Freeze a membership between two dates (YYYY-MM-DD); returns the UFP freeze."""
        path = self._path(key, "subscriptions") + "/freezes"
        body = {"freeze_start_date": start, "freeze_end_date": end, "reason": reason}
        result: dict[str, Any] = await self.http.request("POST", path, json=body)
        return result

    # --- plumbing ---------------------------------------------------------------------

    @staticmethod
    def _path(key: Key, kind: str) -> str:
        ids = key_ids(key, 2)
        if ids is None:
            raise UpstreamNotFound(Source.FITNESSFORCE.value, f"not a FitnessForce key: {key}")
        return f"/tenant/{key.tenant}/clients/{ids[0]}/{kind}/{ids[1]}"
