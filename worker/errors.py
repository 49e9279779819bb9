"""The one exception the pipeline raises for a file it cannot analyse."""


class AnalysisError(Exception):
    """The file cannot be analysed; the message is shown to the user as the reason."""
