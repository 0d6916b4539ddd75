"""User-facing errors: one line naming the problem and its fix; the CLI exits with code 2."""


class UserError(Exception):
    """Bad input from the user (model, data, option, file). Message is shown as is."""

    exit_code = 2
