"""What may be shown of a URL or a message: no credentials, whatever the output (settings,
`info()`, logs, errors, the web page).  User:password@ parts, secret-looking query and
fragment parameters and key-like strings are masked as ***."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"

# "scheme://userinfo@": the whole userinfo goes, not only the password -- tokens are often
# put in the user part (https://TOKEN@host).  Greedy up to the last "@" of the authority.
_USERINFO = re.compile(r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s]*@")
# name=value after ?, &, #, ; or a space (fragments carry OAuth tokens: #access_token=...)
_PARAM = re.compile(r"(?P<pre>(?:^|[?&#;\s,(])(?P<name>[^=&#?;\s,()]+)=)(?P<value>[^&#;\s,)]*)")
_SECRET_NAMES = {"key", "code", "sig", "pass", "pwd", "auth", "jwt", "sas", "pin", "otp", "state"}
_SECRET_PARTS = ("key", "token", "secret", "passw", "signature", "credential", "auth", "session", "cookie", "private")
_KEYLIKE = re.compile(
    r"\b(?:sk|pk|rk|hf|gsk|xai|ghp|gho|ghu|ghs|ghr|glpat|github_pat|xox[abpr])[-_][A-Za-z0-9_\-*]{6,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"
)
# "Bearer <token>" anywhere; any scheme after an Authorization header name ("Basic xyz").
# Not a bare "Basic"/"Token" word: prose ("basic idea", "the token expired") must survive.
_SCHEME_TOKEN = re.compile(
    r"\b(?P<word>Bearer|(?:Proxy-)?Authorization\s*[:=]\s*[A-Za-z]+)\s+"
    r"[A-Za-z0-9._~+/=\-*]{6,}",
    re.IGNORECASE,
)


def _secret_name(name: str) -> bool:
    n = re.sub(r"[^a-z0-9]", "", unquote(name).lower())
    return n in _SECRET_NAMES or any(part in n for part in _SECRET_PARTS)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` (a message, a log line, a URL) with secrets masked as ***: each of `secrets`
    (also percent-encoded; ones shorter than 4 characters are ignored, masking them would
    garble the text), userinfo of URLs, values of secret-looking parameters, key-like
    strings (sk-..., hf_..., AKIA..., JWTs, "Bearer ...", "Authorization: Basic ...").  Never raises."""
    try:
        text = text if isinstance(text, str) else str(text)
        for secret in sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True):
            text = text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
        text = _USERINFO.sub(lambda m: m["pre"] + MASK + "@", text)
        text = _PARAM.sub(lambda m: m["pre"] + MASK if _secret_name(m["name"]) and m["value"] else m[0], text)
        text = _KEYLIKE.sub(MASK, text)
        return _SCHEME_TOKEN.sub(lambda m: f"{m['word']} {MASK}", text)
    except Exception:  # noqa: BLE001 -- a redactor that raises would leak through the error path
        return MASK


def redact_url(url: str) -> str:
    """A URL fit to show anywhere: `user:pass@` -> `***@`, secret-looking query and fragment
    parameters (key, api-key, token, sig, password, code, ...) -> `name=***`, key-like
    strings masked; everything else kept, so the URL stays recognisable.  Also handles a URL
    without a scheme (`user:pw@host/v1?key=...`).  Never raises."""
    try:
        url = url if isinstance(url, str) else str(url)
        if "://" not in url and "@" in url.split("/", 1)[0]:  # no scheme: the authority comes first
            url = MASK + url[url.split("/", 1)[0].rindex("@") :]
        return redact_text(url)
    except Exception:  # noqa: BLE001
        return MASK
