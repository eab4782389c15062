"""`giftcerts` command line: operations for operators and developers."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from giftcerts import config, db, migrate
from giftcerts.core import accounts, apikeys, expiry, workspaces
from giftcerts.core.errors import DomainError, ValidationError


def _workspace(session, slug: str):
    ws = workspaces.find_workspace(session, slug)
    if ws is None:
        raise SystemExit(f"No workspace with slug “{slug}”.")
    return ws


def cmd_migrate(args) -> None:
    migrate.upgrade()
    print("Database is up to date.")


def cmd_seed_demo(args) -> None:
    from giftcerts.demo import seed_demo

    migrate.upgrade()
    with db.write_session() as session:
        result = seed_demo(session)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"Demo workspace: {result['workspace']}\n"
              f"  Staff login:  {result['staff_email']} / {result['staff_password']}\n"
              f"  Viewer login: {result['viewer_email']} / {result['viewer_password']}\n"
              f"  API key:      {result['api_key']}")


def cmd_workspace_create(args) -> None:
    with db.write_session() as session:
        ws = workspaces.create_workspace(session, slug=args.slug, name=args.name or args.slug,
                                         currency=args.currency, timezone=args.timezone)
    print(f"Created workspace {ws.slug} (id {ws.id}).")


def cmd_staff_create(args) -> None:
    password = args.password or getpass.getpass("Password (at least 10 characters): ")
    with db.write_session() as session:
        user = accounts.create_staff(session, _workspace(session, args.slug), email=args.email,
                                     password=password, role=args.role, name=args.name or "")
    print(f"Created {user.role} {user.email}.")


def cmd_apikey_create(args) -> None:
    with db.write_session() as session:
        key, plaintext = apikeys.create_api_key(session, _workspace(session, args.slug), name=args.name or "")
    print(plaintext)
    print(f"(key {key.prefix}… — store it now, it will not be shown again)", file=sys.stderr)


def cmd_expire(args) -> None:
    total = expiry.expire_backlog(batch_size=args.batch)
    print(f"Expired {total} certificates.")


def cmd_cleanup_pending(args) -> None:
    from datetime import timedelta

    from giftcerts.payments import checkout

    counts = checkout.cleanup_abandoned(older_than=timedelta(minutes=args.minutes))
    print(f"Abandoned checkouts: {counts['cancelled']} cancelled, {counts['activated']} found paid and activated, "
          f"{counts['skipped']} left for later.")
    counts = checkout.finish_stale_refunds(older_than=timedelta(minutes=args.minutes))
    print(f"Refunds left in progress: {counts['voided']} finished and voided, {counts['restored']} refused by "
          f"Stripe and put back, {counts['skipped']} still without an answer.")


def cmd_localstripe(args) -> None:
    """Start localstripe for development (unless real Stripe keys are set) and print the
    environment for the app as `export` lines, for `eval "$(giftcerts localstripe ...)"`."""
    import shlex
    from pathlib import Path

    from giftcerts.payments import devstripe, gateway

    conf = gateway.settings()
    if conf.secret_key and not conf.local:
        print("# real Stripe keys found in the environment: localstripe not started", file=sys.stderr)
        return
    Path("var").mkdir(exist_ok=True)
    proc, env = devstripe.start(port=args.port, app_url=args.app_url, log_path=Path("var/localstripe.log"))
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")
    if proc is not None:  # started here: the caller stops it when done (make run's trap)
        print(f"export LOCALSTRIPE_PID={proc.pid}")
    print(f"# localstripe on port {args.port}, webhooks to {args.app_url}/webhooks/stripe", file=sys.stderr)


def cmd_worker(args) -> None:
    """Run background jobs (PDFs, emails) and the periodic sweeps until stopped."""
    import signal
    import threading

    from giftcerts.jobs.worker import Worker, stop_on_signal
    from giftcerts.web.requestlog import configure_logging

    configure_logging()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, stop_on_signal(stop))
    signal.signal(signal.SIGINT, stop_on_signal(stop))
    Worker(lease_seconds=args.lease).run(stop, idle_sleep=args.poll, exit_when_idle=args.once,
                                         sweeps=not args.no_sweeps)


def serve_plan(args, environ: dict[str, str], cwd) -> tuple[list[str], dict[str, str]]:
    """The command and environment `giftcerts serve` runs, or SystemExit(2) with the reason it
    refuses. Apart from executing it, so that the refusals can be tested without a server."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    url = environ.get("REFLEX_DB_URL") or config.DEFAULT_DB_URL
    redis = environ.get("REFLEX_REDIS_URL")
    several = redis and not db.is_sqlite(url)  # what several processes need
    workers = args.workers if args.workers is not None else ((os.cpu_count() or 1) if several else 1)
    if workers < 1:
        raise _refuse("--workers must be at least 1.")
    if workers > 1 and not redis:
        raise _refuse(f"refusing to start {workers} app processes without Redis: set REFLEX_REDIS_URL "
                      "(e.g. redis://127.0.0.1:6379/0). Each process would keep its own copy of every "
                      "browser tab's state and of the code-guessing budgets, so a dashboard would lose its "
                      "session when its websocket reconnects to another process, and a guesser would get "
                      "a fresh budget from each one. Use --workers 1, or configure Redis.")
    if workers > 1 and db.is_sqlite(url):
        raise _refuse(f"refusing to start {workers} app processes on SQLite ({url}): its one writer is "
                      "serialised inside a process. Use PostgreSQL (REFLEX_DB_URL=postgresql://...) "
                      "for several processes, or --workers 1.")
    if not (Path(cwd) / "rxconfig.py").exists():
        raise _refuse("run `giftcerts serve` from the project folder (the one with rxconfig.py).")
    reflex = shutil.which("reflex", path=str(Path(sys.executable).parent)) or "reflex"
    port = str(args.port or environ.get("PORT") or 3000)
    env = {**environ, "PORT": port, "GRANIAN_WORKERS": str(workers), "REFLEX_TELEMETRY_ENABLED": "false"}
    tools = Path(cwd) / ".tools" / "node_modules" / ".bin"  # bun, where `make install` puts it
    if tools.is_dir():
        env["PATH"] = os.pathsep.join([str(tools), environ.get("PATH", "")])
        env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    # Background jobs run in `giftcerts worker` processes, unless asked to run inside the app.
    env["GIFTCERTS_WORKER"] = "on" if args.in_app_worker else environ.get("GIFTCERTS_WORKER", "off")
    if workers > 1 and not environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # one scrape answered by any process adds up all of them (giftcerts.ops.metrics)
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="giftcerts-metrics-")
    command = [reflex, "run", "--env", "prod", "--frontend-port", port, "--backend-port", port]
    if args.host:
        command += ["--backend-host", args.host]
    return command, env


def _refuse(message: str) -> SystemExit:
    print(f"giftcerts serve: {message}", file=sys.stderr)
    return SystemExit(2)


def cmd_serve(args) -> None:
    """Serve the app in production mode: pages, widget, portal and API on one port, in N processes."""
    import os

    command, env = serve_plan(args, dict(os.environ), os.getcwd())
    if args.migrate:
        migrate.upgrade(env.get("REFLEX_DB_URL") or None)
    print(f"giftcerts serve: {env['GRANIAN_WORKERS']} app process(es) on port {env['PORT']}, background jobs "
          f"{'in the app' if env['GIFTCERTS_WORKER'] != 'off' else 'left to `giftcerts worker`'}", file=sys.stderr,
          flush=True)
    os.execvpe(command[0], command, env)  # the server gets our signals directly (SIGTERM: drain, then exit)


def cmd_check(args) -> int:
    """Scan the database for broken invariants; exit 1 if there is any (for cron and tests)."""
    from giftcerts.core import invariants

    url = args.db or config.db_url()
    with db.read_session(url) as session:
        findings = invariants.scan(session, limit=args.limit)
    for finding in findings:
        print(finding)
    if findings:
        rules = sorted({f.rule for f in findings})
        print(f"{len(findings)} problem(s) found ({', '.join(rules)}).", file=sys.stderr)
        return 1
    print(f"No problems found ({len(invariants.RULES)} checks).")
    return 0


def cmd_mail_sink(args) -> None:
    """A local SMTP server that stores every message it receives as an .eml file."""
    import threading

    from giftcerts.notify.sink import MailSink

    sink = MailSink(args.dir, host=args.host, port=args.port).start()
    print(f"SMTP sink on {sink.url}: messages are saved in {sink.folder.resolve()}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="giftcerts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed-demo", help="create or refresh the demo workspace")
    p.add_argument("--json", action="store_true", help="print the login and API key as JSON")
    p.set_defaults(func=cmd_seed_demo)

    ws = sub.add_parser("workspace", help="manage workspaces").add_subparsers(dest="action", required=True)
    p = ws.add_parser("create")
    p.add_argument("slug")
    p.add_argument("--name")
    p.add_argument("--currency", default="USD")
    p.add_argument("--timezone", default="UTC")
    p.set_defaults(func=cmd_workspace_create)

    staff = sub.add_parser("staff", help="manage staff accounts").add_subparsers(dest="action", required=True)
    p = staff.add_parser("create")
    p.add_argument("slug")
    p.add_argument("email")
    p.add_argument("--role", default="staff", choices=["owner", "staff", "viewer"])
    p.add_argument("--name")
    p.add_argument("--password", help="prompted for when omitted")
    p.set_defaults(func=cmd_staff_create)

    keys = sub.add_parser("apikey", help="manage API keys").add_subparsers(dest="action", required=True)
    p = keys.add_parser("create")
    p.add_argument("slug")
    p.add_argument("--name")
    p.set_defaults(func=cmd_apikey_create)

    p = sub.add_parser("expire", help="move certificates past their expiry date to Expired")
    p.add_argument("--batch", type=int, default=500)
    p.set_defaults(func=cmd_expire)

    p = sub.add_parser("cleanup-pending", help="cancel portal checkouts whose payment never completed, and finish "
                                               "voids whose refund was left in progress")
    p.add_argument("--minutes", type=int, default=60,
                   help="age of a Pending portal certificate (or of a refund in progress) to clean up")
    p.set_defaults(func=cmd_cleanup_pending)

    p = sub.add_parser("localstripe", help="start localstripe for development and print the app's Stripe settings")
    p.add_argument("--port", type=int, default=8420)
    p.add_argument("--app-url", default="http://localhost:3000")
    p.set_defaults(func=cmd_localstripe)

    p = sub.add_parser("worker", help="run background jobs (PDFs, emails, expiry, reminders)")
    p.add_argument("--once", action="store_true", help="exit when no job is due")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between polls when idle")
    p.add_argument("--lease", type=float, default=None, help="seconds a claimed job is reserved")
    p.add_argument("--no-sweeps", action="store_true", help="only run jobs, no expiry/reminder sweeps")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("serve", help="serve the app in production mode (reflex run --env prod) with N processes")
    p.add_argument("--workers", type=int, default=None,
                   help="app processes (default: the CPU count with REFLEX_REDIS_URL set, else 1)")
    p.add_argument("--port", type=int, default=None, help="port for everything (default: PORT, else 3000)")
    p.add_argument("--host", default=None, help="address to listen on (default: Reflex's, all interfaces)")
    p.add_argument("--migrate", action="store_true", help="apply database migrations first")
    p.add_argument("--in-app-worker", action="store_true",
                   help="also run background jobs inside each app process (default: off; run `giftcerts worker`)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check", help="scan the database for inconsistencies (exit 1 if any is found)")
    p.add_argument("--db", help="database URL (default: REFLEX_DB_URL, else the SQLite file)")
    p.add_argument("--limit", type=int, default=100, help="at most this many findings per check")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("mail-sink", help="local SMTP server storing received email as .eml files (development)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1025)
    p.add_argument("--dir", default="var/mail", help="folder for the .eml files")
    p.set_defaults(func=cmd_mail_sink)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except ValidationError as exc:
        for field, message in exc.errors.items():
            print(f"error: {field}: {message}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
