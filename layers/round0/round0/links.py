"""Links into the ROUND0 app, as shown to hiring managers and written to the ATS."""

from urllib.parse import quote

DEFAULT_APP_URL = "https://rz-app-omega.vercel.app"


def interview_page_url(interview_id: str, app_url: str = DEFAULT_APP_URL) -> str:
    """The interview's page in ROUND0; the opaque id is quoted to stay one path segment."""
    return f"{app_url.rstrip('/')}/interviews/{quote(interview_id, safe='')}"
