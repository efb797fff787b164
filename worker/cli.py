"""The `lastmile` console command: the web-side commands plus those that need the ML stack."""

from app.cli import build_parser, dispatch
from app.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `lastmile` console script."""
    parser, sub = build_parser()
    sub.add_parser("import-model", help="convert the bundled model into the model cache (once)")
    args = parser.parse_args(argv)
    if args.command == "import-model":
        # Imported here: the ML stack loads only for the command that needs it.
        from worker.model_store import import_bundled

        path = import_bundled(get_settings().models_dir)
        print(f"Bundled model ready in {path}")
    else:
        dispatch(args)


if __name__ == "__main__":
    main()
