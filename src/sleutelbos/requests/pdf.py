"""The request as a PDF (fpdf2): everything it asks and, once signed, every signature.

The PDF says what the signing page says (both come from :func:`sleutelbos.requests.summary.summarise`), in the
request's language. Text is set in DejaVu Sans, a Unicode TrueType font, so names such as "Gülşen Öztürk" or
"Ĳsbrand" come out right; the font is taken from ``SLEUTELBOS_PDF_FONT_DIR``, ``static/fonts`` or the system's
fonts (Debian's ``fonts-dejavu-core``). Without it the PDF falls back to Helvetica: Western European letters only.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from django.conf import settings
from django.utils import formats, timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from sleutelbos.requests.models import Request, RequestState
from sleutelbos.requests.summary import GrantWords, Summary, summarise
from sleutelbos.typography import single_full_stops

FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
SYSTEM_FONT_DIRS = (
    Path(__file__).resolve().parent.parent / "static" / "fonts",
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu"),
)

TEXT = 10
LINE = 5.5


@cache
def font_dir() -> Path | None:
    """The first directory that holds DejaVu Sans and its bold face, or None."""
    configured = getattr(settings, "SLEUTELBOS_PDF_FONT_DIR", "")
    for directory in ([Path(configured)] if configured else []) + list(SYSTEM_FONT_DIRS):
        if all((directory / name).is_file() for name in FONT_FILES.values()):
            return directory
    return None


def _date(value: dt.date | None) -> str:
    return formats.date_format(value, "DATE_FORMAT") if value else "–"


def _moment(value: dt.datetime | None) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else "–"


class RequestPdf(FPDF):
    """An A4 document with a running footer: which request, and the page number."""

    def __init__(self, *, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        directory = font_dir()
        if directory is not None:
            for style, name in FONT_FILES.items():
                self.add_font("DejaVu", style=style, fname=str(directory / name))
            self.body_font = "DejaVu"
        else:
            self.body_font = "Helvetica"
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(20, 18, 20)

    def text_of(self, value: str) -> str:
        """Text the font can set (everything with DejaVu; Western European letters with the Helvetica fallback), with
        one full stop where a sentence ends in an abbreviation ("B.V.")."""
        value = single_full_stops(value)
        if self.body_font == "DejaVu":
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(self.body_font, size=8)
        page = _("Page %(page)s of %(pages)s") % {"page": self.page_no(), "pages": "{nb}"}
        self.cell(0, 5, self.text_of(f"{self.footer_text} · {page}"), align="C")

    # --- building blocks ---------------------------------------------------------------------------------------
    # Text is set flush left: fpdf2 justifies by default, which stretches the words of a line that wraps (a service
    # with its ServiceUUID) across the whole width.

    def heading(self, text: str, *, size: int = 13) -> None:
        self.ln(2)
        self.set_font(self.body_font, style="B", size=size)
        self.multi_cell(0, LINE + 1.5, self.text_of(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.body_font, size=TEXT)

    def paragraph(self, text: str) -> None:
        self.set_font(self.body_font, size=TEXT)
        self.multi_cell(0, LINE, self.text_of(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fact(self, label: str, value: str) -> None:
        """A label in bold and its value beside it ("–" for none); long values wrap under themselves."""
        self.set_font(self.body_font, style="B", size=TEXT)
        self.cell(52, LINE, self.text_of(label))
        self.set_font(self.body_font, size=TEXT)
        self.multi_cell(0, LINE, self.text_of(value or "–"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def label(self, text: str) -> None:
        """A label in bold on a line of its own, for the list that follows it."""
        self.set_font(self.body_font, style="B", size=TEXT)
        self.multi_cell(0, LINE, self.text_of(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.body_font, size=TEXT)

    def bullets(self, items: list[str]) -> None:
        self.set_font(self.body_font, size=TEXT)
        for item in items:
            self.set_x(self.l_margin + 4)
            self.multi_cell(0, LINE, self.text_of(f"• {item}"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _grant(pdf: RequestPdf, grant: GrantWords) -> None:
    pdf.heading(grant.title, size=11)
    pdf.paragraph(f"{capfirst(grant.scope)}.")
    pdf.bullets(grant.identifiers)
    pdf.fact(_("Level"), grant.level)
    pdf.fact(_("Duration"), grant.duration)
    if grant.branch:
        pdf.fact(_("Only for"), _("branch %(branch)s") % {"branch": grant.branch})


def _content(pdf: RequestPdf, request: Request, summary: Summary) -> None:
    pdf.set_font(pdf.body_font, style="B", size=17)
    pdf.multi_cell(0, 9, pdf.text_of(_("eHerkenning request")), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.paragraph(
        _("%(kind)s for %(organisation)s. State: %(state)s.")
        % {
            # capfirst, not capitalize: only the first letter changes ("eHerkenning" stays as it is).
            "kind": capfirst(str(summary.kind)),
            "organisation": summary.organisation,
            "state": RequestState(request.state).label,
        }
    )

    pdf.heading(_("Organisation"))
    pdf.fact(_("Name"), summary.organisation)
    pdf.fact(_("KvK number"), summary.kvk)
    pdf.fact(_("RSIN"), summary.rsin)
    pdf.fact(_("Legal form"), summary.legal_form)
    pdf.fact(_("KvK extract of"), _date(summary.extract_date))
    if summary.branches:
        pdf.label(_("Branches"))
        pdf.bullets(summary.branches)
    if summary.functionaries:
        pdf.label(_("Representatives"))
        pdf.bullets(summary.functionaries)
    else:
        pdf.fact(_("Representatives"), _("none in the extract"))

    pdf.heading(_("Applicant"))
    pdf.fact(_("Name"), summary.applicant_name)
    pdf.fact(_("E-mail address"), summary.applicant_email)
    pdf.fact(_("Date of birth"), _date(summary.applicant_date_of_birth))

    pdf.heading(_("What is requested"))
    if summary.mandates:
        for grant in summary.mandates:
            _grant(pdf, grant)
    if summary.chain_mandates:
        for grant in summary.chain_mandates:
            _grant(pdf, grant)
    if not summary.mandates and not summary.chain_mandates:
        pdf.paragraph(_("No mandates yet."))
    pdf.heading(_("Mandate manager"), size=11)
    pdf.paragraph(summary.manager or _("The applicant does not ask to become mandate manager."))

    pdf.heading(_("Signatures"))
    if summary.signatures_needed:
        pdf.paragraph(summary.signatures_needed)
    if not summary.signers:
        pdf.paragraph(_("Not sent for signature yet."))
    for signer in summary.signers:
        pdf.heading(f"{signer.name} ({signer.authority})", size=11)
        if signer.signed_at:
            pdf.fact(_("Signed at"), _moment(signer.signed_at))
            pdf.fact(_("From address"), signer.address)
            pdf.fact(_("Browser"), signer.user_agent)
            pdf.fact(_("Signed document (SHA-256)"), signer.signed_document_hash)
        elif signer.declined_at:
            pdf.fact(_("Declined at"), _moment(signer.declined_at))
            pdf.fact(_("Reason"), signer.decline_reason)
        else:
            pdf.paragraph(_("Has not signed yet."))

    pdf.heading(_("Document"))
    pdf.fact(_("Submitted at"), _moment(summary.submitted_at))
    pdf.fact(_("Document (SHA-256)"), summary.document_hash or _("not submitted yet"))
    pdf.paragraph(
        _(
            "The SHA-256 is the fingerprint of exactly what is requested. A signature counts only for the fingerprint "
            "it was given on: a request changed afterwards must be signed again."
        )
    )


def request_pdf(request: Request) -> bytes:
    """The request as a PDF, in the request's language."""
    with translation.override(request.language or settings.LANGUAGE_CODE):
        summary = summarise(request)
        title = _("eHerkenning request %(number)s, %(organisation)s") % {
            "number": request.pk,
            "organisation": summary.organisation,
        }
        pdf = RequestPdf(footer_text=title)
        pdf.set_title(pdf.text_of(title))
        pdf.set_author("Sleutelbos")
        pdf.set_creator("Sleutelbos")
        pdf.set_lang(request.language or settings.LANGUAGE_CODE)
        pdf.add_page()
        _content(pdf, request, summary)
        return bytes(pdf.output())
