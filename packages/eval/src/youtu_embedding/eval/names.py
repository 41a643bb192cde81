"""Names: local task folders -> C-MTEB task names, and language codes -> mteb language scripts."""

from __future__ import annotations

#: Local dataset names (``meta.json`` ``name``) that are the source of a C-MTEB task, and that task's
#: name in the Youtu C-MTEB instruction table (REFERENCE.md). A ``meta.json`` may also say so itself
#: with ``"cmteb_name"``.
CMTEB_NAMES: dict[str, str] = {
    "stsb-zh": "STSB",
    "afqmc": "AFQMC",
    "atec": "ATEC",
    "bq": "BQ",
    "lcqmc": "LCQMC",
    "pawsx": "PAWSX",
    "qbqtc": "QBQTC",
    "ocnli": "Ocnli",
    "cmnli": "Cmnli",
    "tnews": "TNews",
    "iflytek": "IFlyTek",
    "waimai": "Waimai",
    "onlineshopping": "OnlineShopping",
    "jdreview": "JDReview",
    "multilingualsentiment": "MultilingualSentiment",
}

#: ``meta.json`` ``language`` -> mteb ``{ISO 639-3}-{script}`` code.
LANGUAGE_SCRIPTS: dict[str, str] = {
    "en": "eng-Latn",
    "zh": "cmn-Hans",
    "zh-cn": "cmn-Hans",
    "zh-tw": "cmn-Hant",
    "de": "deu-Latn",
    "fr": "fra-Latn",
    "es": "spa-Latn",
    "ja": "jpn-Jpan",
    "ko": "kor-Hang",
    "ru": "rus-Cyrl",
    "ar": "arb-Arab",
}


def cmteb_name(local_name: str, declared: str | None = None) -> str | None:
    """The C-MTEB task name of a local dataset (``declared`` wins), or None."""
    if declared:
        return declared
    return CMTEB_NAMES.get(local_name.lower())


def language_script(language: str | None) -> str:
    """The mteb language code of a ``meta.json`` language (``eng-Latn`` when unknown or absent)."""
    if not language:
        return "eng-Latn"
    if "-" in language and len(language.split("-")[0]) == 3:
        return language  # already an mteb code such as cmn-Hans
    return LANGUAGE_SCRIPTS.get(language.lower(), "eng-Latn")
