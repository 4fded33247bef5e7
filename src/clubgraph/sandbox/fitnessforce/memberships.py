"""UFP client subscription routes: reads, date changes, void, cancel, reactivate, freezes."""

from __future__ import annotations

from datetime import UTC, date, datetime

from aiohttp import web

from ..core import json_response
from . import events
from .invoices import filtered_invoices, sorted_invoices
from .responses import (
    STATE,
    UfpError,
    body_date,
    body_text,
    client_of,
    json_body,
    ordered,
    paged,
    path_int,
    sort_order,
    tenant_of,
)
from .state import JSON, SUBSCRIPTION_STATUSES, FitnessForceState


def _today() -> date:
    # Writes use the real clock; the seeded history ends at people.SEED_NOW.
    return datetime.now(UTC).date()


def subscription_of(state: FitnessForceState, request: web.Request) -> JSON:
    client = client_of(state, request)
    sub_id = path_int(request, "subscription_id")
    sub = state.subscriptions.get(sub_id)
    if sub is None or sub["client_id"] != client["client_id"]:
        raise UfpError(
            404, "SubscriptionNotFound", f"subscription {sub_id} not found", "subscription_id"
        )
    return sub


def _sorted(request: web.Request, rows: list[JSON]) -> list[JSON]:
    # inferred: sort_by=start_date (default, newest first) or subscription_id.
    field = request.query.get("sort_by", "start_date")
    if field not in ("start_date", "subscription_id"):
        raise UfpError(400, "InvalidSortField", f"cannot sort by {field}", "sort_by")
    # Ties in subscription id order, in the same direction; no start date sorts oldest.
    return ordered(
        rows, lambda s: s[field] or "1970-01-01", "subscription_id", sort_order(request, "desc")
    )


def _by_status(request: web.Request, rows: list[JSON]) -> list[JSON]:
    # inferred: status takes a comma-separated list of subscription statuses.
    raw = request.query.get("status")
    if not raw:
        return rows
    wanted = {s.strip() for s in raw.split(",")}
    unknown = wanted - set(SUBSCRIPTION_STATUSES)
    if unknown:
        raise UfpError(400, "InvalidStatus", f"unknown status {sorted(unknown)[0]}", "status")
    return [s for s in rows if s["subscription_status"] in wanted]


async def list_client_subscriptions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    client = client_of(state, request)
    rows = [s for s in state.subscriptions.values() if s["client_id"] == client["client_id"]]
    return paged(request, _sorted(request, _by_status(request, rows)))


async def list_tenant_subscriptions(request: web.Request) -> web.Response:
    # inferred: a tenant-wide membership list, like "List active client memberships".
    state = request.app[STATE]
    tenant = tenant_of(state, request)
    rows = [s for s in state.subscriptions.values() if s["tenant_id"] == tenant["tenant_id"]]
    return paged(request, _sorted(request, _by_status(request, rows)))


async def get_subscription(request: web.Request) -> web.Response:
    return json_response(subscription_of(request.app[STATE], request))


async def list_subscription_invoices(request: web.Request) -> web.Response:
    state = request.app[STATE]
    sub = subscription_of(state, request)
    sub_id = sub["subscription_id"]
    rows = [inv for inv in state.invoices.values() if inv["subscription_id"] == sub_id]
    return paged(request, sorted_invoices(request, filtered_invoices(request, rows)))


def _require(sub: JSON, allowed: tuple[str, ...], code: str) -> None:
    if sub["subscription_status"] not in allowed:
        raise UfpError(
            409, code, f"not allowed while subscription is {sub['subscription_status']}", "status"
        )


async def change_start_date(request: web.Request) -> web.Response:
    sub = subscription_of(request.app[STATE], request)
    start = body_date(await json_body(request), "start_date")
    assert start is not None
    _require(sub, ("Pending", "Active"), "SubscriptionNotEditable")
    if sub["end_date"] and start > date.fromisoformat(sub["end_date"]):
        raise UfpError(400, "StartDateAfterEndDate", "start date is after end date", "start_date")
    sub["start_date"] = start.isoformat()
    sub["subscription_status"] = "Pending" if start > _today() else "Active"
    events.subscription_changed(request.app, "subscription.updated", sub)
    return json_response(sub)


async def change_end_date(request: web.Request) -> web.Response:
    sub = subscription_of(request.app[STATE], request)
    end = body_date(await json_body(request), "end_date")
    assert end is not None
    _require(sub, ("Pending", "Active", "Frozen", "PendingCancellation"), "SubscriptionNotEditable")
    if end < date.fromisoformat(sub["start_date"]):
        raise UfpError(400, "EndDateBeforeStartDate", "end date is before start date", "end_date")
    sub["end_date"] = end.isoformat()
    events.subscription_changed(request.app, "subscription.updated", sub)
    return json_response(sub)


async def void_subscription(request: web.Request) -> web.Response:
    sub = subscription_of(request.app[STATE], request)
    reason = body_text(await json_body(request), "reason")
    if sub["subscription_status"] == "Void":
        raise UfpError(409, "SubscriptionAlreadyVoid", "subscription is already void", "status")
    sub.update(
        subscription_status="Void",
        next_billing_date=None,
        void={"void_date": _today().isoformat(), "void_reason": reason},
    )
    events.subscription_changed(request.app, "subscription.updated", sub)
    return json_response(sub)


async def cancel_subscription(request: web.Request) -> web.Response:
    # inferred: body {"cancellation_date" (default today), "reason"}.
    sub = subscription_of(request.app[STATE], request)
    body = await json_body(request)
    reason = body_text(body, "reason")
    when = body_date(body, "cancellation_date", required=False) or _today()
    _require(sub, ("Pending", "Active", "Frozen"), "SubscriptionNotActive")
    if when < date.fromisoformat(sub["start_date"]):
        raise UfpError(
            400, "InvalidCancellationDate", "cancellation before start", "cancellation_date"
        )
    status = "Cancelled" if when <= _today() else "PendingCancellation"
    sub.update(
        subscription_status=status,
        end_date=when.isoformat(),
        next_billing_date=None if status == "Cancelled" else sub["next_billing_date"],
        cancellation={"cancellation_date": when.isoformat(), "reason": reason},
    )
    # Cancelled now or at a later date (PendingCancellation): the cancellation is made.
    events.subscription_changed(request.app, "subscription.cancelled", sub)
    return json_response(sub)


async def reactivate_subscription(request: web.Request) -> web.Response:
    state = request.app[STATE]
    sub = subscription_of(state, request)
    _require(sub, ("Cancelled", "PendingCancellation"), "SubscriptionNotCancelled")
    plan = state.plans[sub["plan_id"]]
    sub.update(subscription_status="Active", cancellation=None)
    if plan["duration_months"] is None:
        sub["end_date"] = None
    events.subscription_changed(request.app, "subscription.updated", sub)
    return json_response(sub)


async def list_freezes(request: web.Request) -> web.Response:
    sub = subscription_of(request.app[STATE], request)
    return json_response(sub["freezes"])


async def create_freeze(request: web.Request) -> web.Response:
    # inferred: body {"freeze_start_date", "freeze_end_date", "reason"}; returns the freeze.
    state = request.app[STATE]
    sub = subscription_of(state, request)
    body = await json_body(request)
    start = body_date(body, "freeze_start_date")
    end = body_date(body, "freeze_end_date")
    assert start is not None
    assert end is not None
    reason = body_text(body, "reason")
    if end <= start:
        raise UfpError(
            400, "FreezeEndBeforeStart", "freeze must end after it starts", "freeze_end_date"
        )
    _require(sub, ("Active",), "SubscriptionNotActive")
    for other in sub["freezes"]:
        if other["status"] in ("Scheduled", "Active") and not (
            end < date.fromisoformat(other["freeze_start_date"])
            or start > date.fromisoformat(other["freeze_end_date"])
        ):
            raise UfpError(409, "FreezeOverlap", "overlaps another freeze", "freeze_start_date")
    active = start <= _today()
    freeze = {
        "freeze_id": state.new_id("freeze"),
        "freeze_start_date": start.isoformat(),
        "freeze_end_date": end.isoformat(),
        "status": "Active" if active else "Scheduled",
        "reason": reason,
    }
    sub["freezes"].append(freeze)
    if active:
        sub["subscription_status"] = "Frozen"
    events.subscription_changed(request.app, "subscription.updated", sub)
    return json_response(freeze, status=201)


def _freeze_of(sub: JSON, request: web.Request) -> JSON:
    freeze_id = path_int(request, "freeze_id")
    for freeze in sub["freezes"]:
        if freeze["freeze_id"] == freeze_id:
            found: JSON = freeze
            return found
    raise UfpError(404, "FreezeNotFound", f"freeze {freeze_id} not found", "freeze_id")


async def stop_freeze(request: web.Request) -> web.Response:
    sub = subscription_of(request.app[STATE], request)
    freeze = _freeze_of(sub, request)
    if freeze["status"] != "Active":
        raise UfpError(409, "FreezeNotActive", "only an active freeze can be stopped", "freeze_id")
    freeze.update(status="Stopped", freeze_end_date=_today().isoformat())
    sub["subscription_status"] = "Active"
    events.subscription_changed(request.app, "subscription.updated", sub)
    return json_response(freeze)


async def cancel_freeze(request: web.Request) -> web.Response:
    sub = subscription_of(request.app[STATE], request)
    freeze = _freeze_of(sub, request)
    if freeze["status"] != "Scheduled":
        raise UfpError(
            409, "FreezeNotScheduled", "only a scheduled freeze can be cancelled", "freeze_id"
        )
    freeze["status"] = "Cancelled"
    events.subscription_changed(request.app, "subscription.updated", sub)
    return json_response(freeze)


async def list_plans(request: web.Request) -> web.Response:
    state = request.app[STATE]
    tenant = tenant_of(state, request)
    rows = [p for p in state.plans.values() if p["tenant_id"] == tenant["tenant_id"]]
    return paged(request, rows)


async def get_plan(request: web.Request) -> web.Response:
    state = request.app[STATE]
    tenant = tenant_of(state, request)
    plan = state.plans.get(path_int(request, "plan_id"))
    if plan is None or plan["tenant_id"] != tenant["tenant_id"]:
        raise UfpError(404, "PlanNotFound", "subscription plan not found", "plan_id")
    return json_response(plan)


def add_routes(app: web.Application) -> None:
    # inferred: every path below except the index names, in the seed's path style.
    base = "/tenant/{tenant_id}/clients/{client_id}/subscriptions"
    one = base + "/{subscription_id}"
    freeze = one + "/freezes/{freeze_id}"
    r = app.router
    r.add_get("/tenant/{tenant_id}/subscriptions", list_tenant_subscriptions)
    r.add_get("/tenant/{tenant_id}/subscription_plans", list_plans)
    r.add_get("/tenant/{tenant_id}/subscription_plans/{plan_id}", get_plan)
    r.add_get(base, list_client_subscriptions)
    r.add_get(one, get_subscription)
    r.add_get(one + "/invoices", list_subscription_invoices)
    r.add_put(one + "/start_date", change_start_date)
    r.add_put(one + "/end_date", change_end_date)
    r.add_post(one + "/void", void_subscription)
    r.add_post(one + "/cancel", cancel_subscription)
    r.add_post(one + "/reactivate", reactivate_subscription)
    r.add_get(one + "/freezes", list_freezes)
    r.add_post(one + "/freezes", create_freeze)
    r.add_post(freeze + "/stop", stop_freeze)
    r.add_post(freeze + "/cancel", cancel_freeze)
