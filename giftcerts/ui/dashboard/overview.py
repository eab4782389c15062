"""/dashboard: the Overview — how the programme sells, what is owed, what is about to expire.

Figures come from `giftcerts.core.reports` (definitions there and in each card's caption);
the page only formats them. It stays live: `LiveRefresh` re-runs the queries only when the
workspace's change marker moves.
"""

from __future__ import annotations

import asyncio
import math
from urllib.parse import urlencode

import reflex as rx

from giftcerts import db
from giftcerts.web import guessing, throttle
from giftcerts.clock import format_local, utcnow
from giftcerts.core import accounts, money, reports, workspaces
from giftcerts.core.errors import DomainError, NotSignedIn, ValidationError
from giftcerts.core.exports import type_names
from giftcerts.ui.auth_state import AuthState
from giftcerts.ui.components.elements import empty_state, native_select
from giftcerts.ui.components.layout import dashboard_page
from giftcerts.ui.live import LiveRefresh, current_marker

OVERVIEW_CSV = "/exports/overview.csv"
PERIOD_OPTIONS = list(reports.PERIODS.items())
SOURCE_OPTIONS = list(reports.SOURCES.items())


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _bucket_label(day, granularity: str) -> str:
    if granularity == "month":
        return f"{day:%b %Y}"
    if granularity == "week":
        return f"Week of {day:%b} {day.day}"
    return f"{day:%b} {day.day}"


def _figures(ov: reports.Overview) -> dict[str, str]:
    fmt = lambda cents: money.format_money(cents, ov.currency)  # noqa: E731
    plural = lambda n, word: f"{n:,} {word}{'' if n == 1 else 's'}"  # noqa: E731
    days = ov.average_days_to_redemption
    return {
        "revenue": fmt(ov.sold_cents),
        "revenue_count": plural(ov.sold_count, "certificate") + " sold",
        "revenue_voided": (f"{fmt(ov.voided_later_cents)} of it voided since "
                           f"({plural(ov.voided_later_count, 'certificate')}); net "
                           f"{fmt(ov.sold_cents - ov.voided_later_cents)}") if ov.voided_later_count else "",
        "rate_count": _percent(ov.redeemed_count, ov.sold_count),
        "rate_value": _percent(ov.redeemed_cents, ov.sold_cents),
        "redeemed": f"{plural(ov.redeemed_count, 'certificate')} worth {fmt(ov.redeemed_cents)} redeemed "
                    f"of {ov.sold_count:,} sold",
        "days": "—" if days is None else f"{days:.1f} days",
        "days_count": "No certificate sold in this period has been redeemed yet." if days is None
                      else f"Over {plural(ov.redeemed_count, 'redeemed certificate')}",
        "outstanding": fmt(ov.outstanding_cents),
        "outstanding_count": plural(ov.outstanding_count, "active certificate"),
        "expiring": fmt(ov.expiring_cents),
        "expiring_count": plural(ov.expiring_count, "certificate") + f" in the next {reports.EXPIRING_SOON_DAYS} days",
        "breakage": fmt(ov.breakage_cents),
        "breakage_count": plural(ov.breakage_count, "certificate") + " expired unredeemed",
        "voided": fmt(ov.voided_cents),
        "voided_count": plural(ov.voided_count, "certificate") + " voided",
        "refunded": fmt(ov.refunded_cents),
    }


def nice_ticks(top: float, *, count: int = 4, whole: bool = True) -> list[float]:
    """Round axis ticks from 0 to at least `top`: about `count` steps of 1, 2 or 5 times a power
    of ten (0 / 5,000 / 10,000 / 15,000 / 20,000, not 0 / 4,500 / 9,000 / 18,000). With `whole`,
    steps are never below 1 (money in major units shown without cents, counts of certificates)."""
    if top <= 0:
        return [0, 1] if whole else [0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1, round(step))
    steps = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) if not whole else int(i * step) for i in range(steps + 1)]


def intl_locale(locale: str) -> str:
    """Babel's `de_DE` as the browser's Intl spells it, `de-DE`."""
    return (locale or money.DEFAULT_LOCALE).replace("_", "-")


def _chart_number(cents: int, currency: str) -> float:
    """Bar heights only; every figure shown as text is formatted from exact minor units."""
    return float(money.from_minor(cents, currency))


def compute(token: str, params: dict[str, str]) -> dict:
    """Everything the page shows, for the staff member behind `token` (checked here, in the
    worker thread, so the live task never trusts an earlier check)."""
    with db.read_session() as session:
        principal = accounts.resolve_session(session, token)
        if principal is None:
            raise NotSignedIn("Your session has ended. Please sign in again.")
        ws = workspaces.get_workspace(session, principal.workspace_id)
        marker = current_marker(ws.id)
        period = reports.resolve_period(params["period"], ws.timezone, start=params["start"], end=params["end"])
        filters = reports.Filters.parse(params["type"], params["source"])
        ov = reports.overview(session, ws, period, filters)
        types = type_names(session, ws.id)
        alert = guessing.current(session, ws.id)
    cur = ws.currency
    revenue = [_chart_number(b.value_cents, cur) for b in ov.series]
    run_off = [_chart_number(r.value_cents, cur) for r in ov.run_off]
    return {
        "marker": marker,
        "currency": cur,
        "chart_locale": intl_locale(ws.locale),
        "revenue_ticks": nice_ticks(max(revenue, default=0)),
        "run_off_ticks": nice_ticks(max(run_off, default=0), count=3),
        "amount_count_ticks": nice_ticks(max((a.count for a in ov.amounts), default=0)),
        "figures": _figures(ov),
        "has_sales": ov.sold_count > 0,
        "has_outstanding": ov.outstanding_count > 0,
        "period_label": period.label + f" ({ws.timezone})",
        "granularity": period.granularity,
        "revenue_series": [{"label": _bucket_label(b.first_day, period.granularity),
                            "Revenue": _chart_number(b.value_cents, cur), "Certificates": b.count}
                           for b in ov.series],
        "amounts_chart": [{"label": money.format_money(a.amount_cents, cur), "Certificates": a.count,
                           "value": money.format_money(a.value_cents, cur)} for a in ov.amounts],
        "rate_chart": [{"label": "By number", "Redeemed": round(100 * ov.redeemed_count / ov.sold_count, 1)
                        if ov.sold_count else 0},
                       {"label": "By value", "Redeemed": round(100 * ov.redeemed_cents / ov.sold_cents, 1)
                        if ov.sold_cents else 0}],
        "run_off": [{"label": r.label, "Outstanding": _chart_number(r.value_cents, cur), "count": r.count,
                     "value": money.format_money(r.value_cents, cur)} for r in ov.run_off],
        "type_options": [{"value": "all", "label": "All types"}]
                        + [{"value": str(type_id), "label": name} for type_id, name in
                           sorted(types.items(), key=lambda item: item[1].lower())]
                        + ([{"value": "none", "label": "No type"}] if types else []),
        "updated_at": format_local(utcnow(), ws.timezone, "%H:%M:%S"),
        "guessing_alert": guessing_banner(alert, ws.timezone),
    }


def guessing_banner(alert, tz_name: str) -> str:
    """What staff are told while a guessing alert lasts ("" when there is none)."""
    if alert is None:
        return ""
    when = lambda moment: f"{format_local(moment, tz_name)} ({tz_name})"  # noqa: E731
    guarded = throttle.budget("GUARDED")
    return (f"Code guessing detected at {when(alert.detected_at)}: at least {alert.failures:,} invalid codes "
            f"were tried in the redemption widget within {alert.window}. "
            f"Until {when(alert.guarded_until)} each address may try only {guarded.amount} invalid codes "
            f"per {guarded.GRANULARITY.name} there. Nothing is blocked: your booking system's API key and customers "
            "with real codes redeem as usual.")


class OverviewState(LiveRefresh, AuthState):
    period: str = "month"
    start_date: str = ""
    end_date: str = ""
    type_filter: str = "all"
    source_filter: str = "all"
    type_options: list[dict[str, str]] = [{"value": "all", "label": "All types"}]
    errors: dict[str, str] = {}
    loaded: bool = False
    figures: dict[str, str] = {}
    has_sales: bool = False
    has_outstanding: bool = False
    period_label: str = ""
    granularity: str = "day"
    revenue_series: list[dict] = []
    amounts_chart: list[dict] = []
    rate_chart: list[dict] = []
    run_off: list[dict] = []
    currency: str = "USD"
    chart_locale: str = "en-US"
    revenue_ticks: list[int] = [0, 1]
    run_off_ticks: list[int] = [0, 1]
    amount_count_ticks: list[int] = [0, 1]
    updated_at: str = ""
    guessing_alert: str = ""
    exporting: bool = False

    def _params(self) -> dict[str, str]:
        return {"period": self.period, "start": self.start_date, "end": self.end_date, "type": self.type_filter,
                "source": self.source_filter}

    def _apply(self, result: dict) -> None:
        self._live_marker = result.pop("marker")
        for name, value in result.items():
            setattr(self, name, value)
        self.errors = {}
        self.loaded = True

    def _load(self):
        try:
            self._guard()
            self._apply(compute(self.session_token, self._params()))
        except ValidationError as exc:
            self.errors = exc.errors
        except DomainError as exc:
            return self._refuse(exc)

    async def _live_reload(self):
        async with self:
            token, params = self.session_token, self._params()
        try:
            result = await asyncio.to_thread(compute, token, params)
        except DomainError:
            return  # signed out or an invalid custom range: the next user action shows why
        async with self:
            if params == self._params():  # the user did not change the filters meanwhile
                self._apply(result)

    @rx.event
    def on_load(self):
        params = self.router.url.query_parameters
        period = str(params.get("period", "month"))
        self.period = period if period in reports.PERIODS else "month"
        self.loaded = False
        return self._load()

    @rx.event
    def set_period(self, value: str):
        self.period = value if value in reports.PERIODS else "month"
        if self.period == "custom" and not (self.start_date and self.end_date):
            today = utcnow().date()
            self.start_date = self.start_date or today.replace(day=1).isoformat()
            self.end_date = self.end_date or today.isoformat()
        return self._load()

    @rx.event
    def set_start_date(self, value: str):
        self.start_date = str(value)[:10]
        return self._load()

    @rx.event
    def set_end_date(self, value: str):
        self.end_date = str(value)[:10]
        return self._load()

    @rx.event
    def set_type_filter(self, value: str):
        self.type_filter = str(value)[:12]
        return self._load()

    @rx.event
    def set_source_filter(self, value: str):
        self.source_filter = value if value in reports.SOURCES else "all"
        return self._load()

    @rx.event
    def export_figures(self):
        try:
            self._guard()
            reports.resolve_period(self.period, "UTC", start=self.start_date, end=self.end_date)
        except ValidationError as exc:
            self.errors = exc.errors
            return rx.toast.error("Correct the date range before exporting.")
        except DomainError as exc:
            return self._refuse(exc)
        query = urlencode(self._params())
        return rx.download(url=f"{OVERVIEW_CSV}?{query}", filename="overview.csv")


# --- components -----------------------------------------------------------------------------

def _caption(text: str) -> rx.Component:
    return rx.text(text, size="1", color=rx.color("gray", 10))


def _card(title: str, *children: rx.Component, caption: str, icon: str) -> rx.Component:
    slug = title.lower().replace(" ", "-")
    return rx.card(
        rx.el.section(
            rx.vstack(
                rx.hstack(rx.icon(icon, size=16, color=rx.color("accent", 10)),
                          rx.heading(title, size="3", as_="h2", id=f"card-{slug}"),
                          rx.tooltip(rx.icon("info", size=14, color=rx.color("gray", 9), tab_index=0,
                                             aria_label=f"About {title}"), content=caption),
                          align="center", spacing="2"),
                *children,
                _caption(caption),
                spacing="2",
                align="start",
                width="100%",
            ),
            aria_labelledby=f"card-{slug}",
        ),
        width="100%",
    )


def _big(value) -> rx.Component:
    return rx.text(value, size="7", weight="bold", style={"font_variant_numeric": "tabular-nums"})


def _chart_box(label: str, chart: rx.Component) -> rx.Component:
    return rx.el.figure(chart, aria_label=label, role="img", style={"width": "100%", "margin": "0"})


def _money_format(fraction_digits: int | None = None) -> rx.Var:
    """A chart's value formatter: amounts in the workspace's currency and locale (whole units on
    the axis; the tooltip keeps the currency's own decimals)."""
    digits = "" if fraction_digits is None else (f", minimumFractionDigits: {fraction_digits}, "
                                                 f"maximumFractionDigits: {fraction_digits}")
    return rx.vars.function.ArgsFunctionOperation.create(("value",), rx.Var(
        f"new Intl.NumberFormat({OverviewState.chart_locale}, {{style: 'currency', "
        f"currency: {OverviewState.currency}{digits}}}).format(value)"))


def _percent_format() -> rx.Var:
    return rx.vars.function.ArgsFunctionOperation.create(("value",), rx.Var("`${value}%`"))


def _money_axis(ticks) -> rx.Component:
    return rx.recharts.y_axis(width=76, font_size=11, ticks=ticks, domain=[0, ticks[-1]], interval=0,
                              tick_formatter=_money_format(0))


def _money_tooltip() -> rx.Component:
    return rx.recharts.graphing_tooltip(custom_attrs={"formatter": _money_format()})


def _revenue_chart() -> rx.Component:
    return _chart_box("Revenue chart", rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
        rx.recharts.x_axis(data_key="label", tick_line=False, font_size=11),
        _money_axis(OverviewState.revenue_ticks),
        _money_tooltip(),
        rx.recharts.bar(data_key="Revenue", fill=rx.color("accent", 9), radius=[3, 3, 0, 0],
                        is_animation_active=False),
        data=OverviewState.revenue_series,
        width="100%",
        height=220,
    ))


def _amounts_chart() -> rx.Component:
    return _chart_box("Popular amounts chart", rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
        rx.recharts.x_axis(type_="number", allow_decimals=False, font_size=11, interval=0,
                           ticks=OverviewState.amount_count_ticks,
                           domain=[0, OverviewState.amount_count_ticks[-1]]),
        rx.recharts.y_axis(data_key="label", type_="category", width=90, font_size=11, interval=0),
        rx.recharts.graphing_tooltip(),
        rx.recharts.bar(data_key="Certificates", fill=rx.color("grass", 9), radius=[0, 3, 3, 0],
                        is_animation_active=False),
        data=OverviewState.amounts_chart,
        layout="vertical",
        margin={"right": 16},  # room for the last tick's label
        width="100%",
        height=220,
    ))


def _rate_chart() -> rx.Component:
    return _chart_box("Redemption rate chart", rx.recharts.bar_chart(
        rx.recharts.x_axis(data_key="label", font_size=11),
        rx.recharts.y_axis(domain=[0, 100], ticks=[0, 25, 50, 75, 100], interval=0, width=48, font_size=11,
                           tick_formatter=_percent_format()),
        rx.recharts.graphing_tooltip(),
        rx.recharts.bar(data_key="Redeemed", fill=rx.color("blue", 9), radius=[3, 3, 0, 0], unit="%",
                        is_animation_active=False),
        data=OverviewState.rate_chart,
        width="100%",
        height=160,
    ))


def _run_off_chart() -> rx.Component:
    return _chart_box("Outstanding by expiry chart", rx.recharts.bar_chart(
        rx.recharts.x_axis(data_key="label", font_size=11, interval=0),
        _money_axis(OverviewState.run_off_ticks),
        _money_tooltip(),
        rx.recharts.bar(data_key="Outstanding", fill=rx.color("amber", 9), radius=[3, 3, 0, 0],
                        is_animation_active=False),
        data=OverviewState.run_off,
        width="100%",
        height=160,
    ))


def _no_sales(title: str) -> rx.Component:
    return empty_state("chart-no-axes-column", title,
                       "Certificates paid in this period will appear here. Try a longer period or other filters.")


def _type_select() -> rx.Component:
    return rx.vstack(
        rx.el.label("Certificate type", html_for="type-filter", style={"font_weight": "500", "font_size": "14px"}),
        rx.el.select(
            rx.foreach(OverviewState.type_options, lambda o: rx.el.option(o["label"], value=o["value"])),
            id="type-filter",
            value=OverviewState.type_filter,
            on_change=OverviewState.set_type_filter,
            style={"height": "32px", "padding": "0 8px", "border_radius": "6px",
                   "border": f"1px solid {rx.color('gray', 7)}", "background": rx.color("gray", 1),
                   "font_size": "14px", "min_width": "160px"},
        ),
        spacing="1",
        align="start",
    )


def _date_input(label: str, id: str, value, handler, error_key: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id, style={"font_weight": "500", "font_size": "14px"}),
        rx.input(type="date", id=id, value=value, on_change=handler.debounce(400), size="2",
                 aria_invalid=rx.cond(OverviewState.errors.contains(error_key), "true", "false"),
                 aria_describedby=f"{error_key}-error"),
        rx.cond(OverviewState.errors.contains(error_key),
                rx.text(OverviewState.errors[error_key], color=rx.color("red", 11), size="1", role="alert",
                        id=f"{error_key}-error")),
        spacing="1",
        align="start",
    )


def _controls() -> rx.Component:
    return rx.hstack(
        native_select("Period", "period-select", PERIOD_OPTIONS, value=OverviewState.period,
                      on_change=OverviewState.set_period),
        rx.cond(
            OverviewState.period == "custom",
            rx.hstack(
                _date_input("From", "period-start", OverviewState.start_date, OverviewState.set_start_date, "start"),
                _date_input("To", "period-end", OverviewState.end_date, OverviewState.set_end_date, "end"),
                spacing="3",
                align="start",
            ),
        ),
        _type_select(),
        native_select("Source", "source-filter", SOURCE_OPTIONS, value=OverviewState.source_filter,
                      on_change=OverviewState.set_source_filter),
        align="start",
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _status_line() -> rx.Component:
    return rx.hstack(
        rx.text(OverviewState.period_label, size="2", color=rx.color("gray", 11), id="period-label"),
        rx.spacer(),
        rx.cond(OverviewState.live,
                rx.badge(rx.icon("radio", size=12), "Live", color_scheme="green", variant="soft",
                         title="Figures update by themselves when certificates are sold, redeemed or voided")),
        rx.text("Updated ", OverviewState.updated_at, size="1", color=rx.color("gray", 10), role="status"),
        align="center",
        width="100%",
    )


def _cards() -> rx.Component:
    f = OverviewState.figures
    C = reports.CAPTIONS
    return rx.vstack(
        rx.grid(
            _card("Revenue",
                  rx.hstack(_big(f["revenue"]), rx.text(f["revenue_count"], size="2", color=rx.color("gray", 11)),
                            align="baseline", spacing="3", wrap="wrap"),
                  rx.cond(f["revenue_voided"] != "", rx.text(f["revenue_voided"], size="1")),
                  rx.cond(OverviewState.has_sales, _revenue_chart(), _no_sales("No sales in this period")),
                  caption=C["revenue"] + " The chart shows the value sold per " + OverviewState.granularity + ".",
                  icon="banknote"),
            columns="1",
            width="100%",
        ),
        rx.grid(
            _card("Redemption rate",
                  rx.cond(OverviewState.has_sales,
                          rx.vstack(
                              rx.hstack(rx.vstack(_big(f["rate_count"]), _caption("by number"), spacing="0"),
                                        rx.vstack(_big(f["rate_value"]), _caption("by value"), spacing="0"),
                                        spacing="6"),
                              rx.text(f["redeemed"], size="2"),
                              _rate_chart(),
                              spacing="2", width="100%"),
                          _no_sales("Nothing sold in this period")),
                  caption=C["redemption"], icon="ticket-check"),
            _card("Popular amounts",
                  rx.cond(OverviewState.has_sales, _amounts_chart(), _no_sales("No amounts to compare yet")),
                  caption=C["popular"], icon="chart-bar"),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        rx.grid(
            _card("Outstanding",
                  rx.hstack(_big(f["outstanding"]), rx.text(f["outstanding_count"], size="2",
                                                            color=rx.color("gray", 11)),
                            align="baseline", spacing="3", wrap="wrap"),
                  rx.text("Expiring soon: ", rx.text.strong(f["expiring"]), " — ", f["expiring_count"], size="2"),
                  rx.cond(OverviewState.has_outstanding, _run_off_chart(),
                          empty_state("circle-check", "Nothing outstanding",
                                      "No active certificate is waiting to be redeemed.")),
                  caption=C["outstanding"] + " " + C["run_off"], icon="landmark"),
            rx.vstack(
                _card("Breakage", _big(f["breakage"]), rx.text(f["breakage_count"], size="2"),
                      caption=C["breakage"], icon="hourglass"),
                _card("Voided and refunded", _big(f["voided"]),
                      rx.text(f["voided_count"], ", ", f["refunded"], " refunded to cards", size="2"),
                      caption=C["voided"], icon="ban"),
                _card("Days to redemption", _big(f["days"]), rx.text(f["days_count"], size="2"),
                      caption=C["days"], icon="calendar-clock"),
                spacing="4",
                width="100%",
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def overview_page() -> rx.Component:
    return dashboard_page(
        "Overview",
        _controls(),
        rx.cond(
            ~OverviewState.loaded,
            rx.cond(
                OverviewState.errors.length() > 0,
                rx.callout("Choose a valid date range to see the figures.", icon="calendar-x", width="100%"),
                rx.center(rx.spinner(size="3"), padding="3rem", width="100%", aria_label="Loading the overview"),
            ),
            rx.vstack(
                rx.cond(OverviewState.guessing_alert != "",
                        rx.callout(OverviewState.guessing_alert, icon="shield-alert", color_scheme="amber",
                                   role="alert", id="guessing-alert", width="100%")),
                _status_line(), _cards(), spacing="3", width="100%"),
        ),
        # Live updates run while this page is mounted.
        rx.box(on_mount=OverviewState.start_live, on_unmount=OverviewState.stop_live, display="none"),
        actions=rx.button(rx.icon("download", size=16), "Export figures (CSV)", variant="soft",
                          on_click=OverviewState.export_figures),
    )
