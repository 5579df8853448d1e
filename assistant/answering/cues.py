"""What a question asks for, and what a sentence offers: the patterns sentence scoring reads
(focus.py).

`CUES` pairs, for each kind of answer, what a question asking for it says with what a sentence
giving it says ("how many" / a number); the other patterns mark a sentence's place in an
abstract (earlier work, a code notice, a sentence carrying on the one before)."""

from __future__ import annotations

import re

CONTRIBUTION = re.compile(
    r"\b(we (propose|introduce|present|develop|design|release)|this (paper|work) (proposes|introduces|presents)|"
    r"in this (paper|work))\b",
    re.I,
)

# A sentence introducing the paper's own contribution, in a research abstract ("we propose X",
# "this paper introduces") or a software paper's ("the R package X provides", "X is an R
# package that", "this vignette shows"): what a table cell about the paper as a whole quotes.
INTRODUCES = re.compile(
    r"\b(we (propose|introduce|present|develop|design|release|describe)|"
    r"this (paper|work|article|vignette|note|study) (proposes|introduces|presents|describes|shows)|"
    r"in this (paper|work|article)|"
    r"(the|this) (\w+ ){0,3}package (\w+ ){0,3}(provides|implements|offers|was designed|allows|facilitates|fits)|"
    r"is an? (\w+ ){0,4}package|(this|the) (article|vignette|paper|note) (shows|introduces|describes|presents))\b",
    re.I,
)

# cue name -> (what a question asking for it says, what a sentence giving it says)
CUES: dict[str, tuple[re.Pattern, re.Pattern]] = {
    "number": (
        re.compile(
            r"\bhow (many|much|large|big|small|little|fast|far|long|often|high|low|accurate)\b|\bby how\b|"
            r"\b(what|which) (percentage|fraction|share|proportion|size|number|amount|margin|speed-?up|scale)\b|"
            r"\bwhat (\w+ ){0,2}(numbers?|accuracy|scores?|ap|map|miou|bleu|cider|f1|error rate|gains?|"
            r"improvements?)\b",
            re.I,
        ),
        re.compile(
            r"(?<![\w-])\d|%|\b(one|two|three|four|five|six|seven|eight|nine|ten|twice|double|half|dozens?|hundreds?|"
            r"thousands?|millions?|billions?|\w+fold)\b",
            re.I,
        ),
    ),
    "data": (
        re.compile(
            r"\b(evaluat\w*|benchmark\w*|tested|test(ed)? (it )?on|experiments?|release[sd]?|put out)\b|"
            r"\b(what|which) (\w+ ){0,2}(data|datasets?|data sets?|tasks?|corpora|corpus)\b|"
            r"\b(trained|pretrained|pre-trained|fine-?tuned) on\b",
            re.I,
        ),
        re.compile(
            r"\b(benchmarks?|datasets?|data|corp(us|ora)|experiments?|evaluat\w*|tested|results on|"
            r"(trained|pretrained|pre-trained|fine-tuned) on)\b",
            re.I,
        ),
    ),
    "finding": (
        re.compile(
            r"\b(find|found|findings?|conclu\w+|discover\w*|reveal\w*|observ\w+|show(ed|n)?|learn(ed|t)?|"
            r"results?|insights?|takeaways?)\b",
            re.I,
        ),
        re.compile(
            r"\b(we (find|found|show|observe|reveal|demonstrate|discover)|(find|show|reveal|suggest|indicate|"
            r"demonstrate)s? that|(results?|experiments?|analys[ie]s|findings?) (show|suggest|indicate|reveal|"
            r"demonstrate)|correlat\w+)\b",
            re.I,
        ),
    ),
    "why": (
        re.compile(r"\bwhy\b|\bwhat for\b|\bpurpose\b|\bmotivat\w*|\bthe point of\b", re.I),
        re.compile(
            r"\b(because|since|due to|so that|in order to|to (avoid|prevent|ensure|enable|address|mitigate|"
            r"overcome|reduce|capture|let|allow)|lead(s|ing)? to|limit\w*|fail\w*|however|challeng\w*)\b",
            re.I,
        ),
    ),
    "need": (
        re.compile(r"\b(need|needs|needed|require[sd]?|requirements?|depend\w*|rel(y|ies) on|without)\b", re.I),
        re.compile(
            r"\b(requir\w*|need\w*|without|free|no (additional|extra|further)|rel(y|ies|ying) on|"
            r"dependen\w*)\b",
            re.I,
        ),
    ),
    "how": (
        re.compile(
            r"^\W*(and |but )?how (do|does|did|is|are|was|were|can|could)\b|\bby what means\b|"
            r"\bwhat (mechanism|technique|procedure)\b",
            re.I,
        ),
        re.compile(
            r"^\W*((this|that|these|such|it)( \w+)? (is|are|was|were) (done|accomplished|achieved|realized|"
            r"realised|implemented)|specifically|concretely|to do (so|this))\b|\bby \w+ing\b|\b(via|through)\b|"
            r"\bwe (first )?(devise|design|introduce|train|use|employ|formulate|leverage|adopt|build|construct|"
            r"encode|map|convert|translate)\b",
            re.I,
        ),
    ),
    "source": (
        re.compile(r"\bwhere (do|does|did|is|are|was|were) .{0,80}\b(come|obtained|get|from)\b|\bsource of\b", re.I),
        re.compile(
            r"\b(from|generated (by|with)|obtained|collected|quer(y|ied)|extract\w*|derived|annotated|"
            r"labell?ed|prompt\w*)\b",
            re.I,
        ),
    ),
    "fix": (
        re.compile(r"\b(fix|fixes|solution|remedy|solve|cure|counter|what to do)\b", re.I),
        re.compile(
            r"\b(propos\w*|introduc\w*|address\w*|mitigat\w*|alleviat\w*|solution|solv\w*|remed\w*|"
            r"overcom\w*)\b",
            re.I,
        ),
    ),
    "general": (
        re.compile(
            r"\b(only (work|apply)|particular|generali[sz]\w*|carry over|transfer\w*|beyond|"
            r"other (languages|models|llms|domains|tasks|datasets|backbones)|any (llm|model|backbone))\b",
            re.I,
        ),
        re.compile(
            r"\b(any|various|different|other|generali[sz]\w*|agnostic|across|transfer\w*|compatible|"
            r"plug-and-play|universal|cross-lingual|out-of-domain)\b",
            re.I,
        ),
    ),
    # "which encoders / what backbone": the answer names them (GPT-2, CLIP, ResNet, e.g. ...)
    "parts": (
        re.compile(
            r"\b(which|what) (\w+ ){0,2}(models|encoders?|backbones?|llms?|language models?|networks?|"
            r"architectures?|components?|modules?|heads?|parts?)\b",
            re.I,
        ),
        re.compile(r"\b(?:[A-Z]+[a-z]*[A-Z0-9][\w-]*|[A-Z][a-z]+[A-Z][\w-]*)\b|\b(e\.g\.|i\.e\.|such as)"),
    ),
    # What happens when the user sets nothing (a function's default, a package's setting):
    # the body of a software paper says it in so many words.
    "default": (
        re.compile(
            r"\bdefaults?\b|\bunless\b|\botherwise\b|\bwithout (giving|specifying|setting|passing)\b|"
            r"\bif (i|you) (don't|do not) (give|specify|set|pass)\b",
            re.I,
        ),
        re.compile(r"\bdefault(s|ed)?\b|\bunless\b|\botherwise\b", re.I),
    ),
    # What a method cannot do (yet): the limitation the question asks for.
    "limit": (
        re.compile(
            r"\blimitations?\b|\bdrawbacks?\b|\bshortcomings?\b|\bstill (missing|lacking|fails?)\b|"
            r"\bwhat is (still )?missing\b",
            re.I,
        ),
        re.compile(
            r"\bonly\b|\bcurrently\b|\blimit(ed|s|ation)?\b|\bnot (yet )?(supported|available|possible|"
            r"provided|implemented)\b|\b(does|do|can) not\b|\bcannot\b|\bfail(s|ed)?\b",
            re.I,
        ),
    ),
    "name": (
        re.compile(
            r"^\W*(is there|are there|(which|what) (paper|work|method|model|approach|framework|system)s?\b|"
            r"(do|does) any|what is (it )?called)",
            re.I,
        ),
        CONTRIBUTION,
    ),
}

# Cues for what a paper's body states and its abstract rarely does (the issue's "which
# default, which limitation"): only body sentences are scored for them, so answers from
# abstracts are as before.
BODY_CUES = frozenset({"default", "limit"})

# A sentence that carries on the one before it: it says *how* that one is done.
CONTINUES = re.compile(
    r"^\W*((this|that|these|such|it)( \w+)? (is|are|was|were) (done|accomplished|achieved|realized|"
    r"realised|implemented|obtained|made possible)|specifically|concretely|in particular|to do (so|this)|"
    r"to achieve this|technically)\b",
    re.I,
)
# Sentences about earlier work (without "we"/"our"), and notices of code or links: rarely what was asked.
BACKGROUND = re.compile(
    r"\b(previous|prior|existing|current|conventional|traditional|recent|earlier|most) (\w+ )?(works?|"
    r"studies|study|methods?|approaches|solutions|models?|research|efforts)\b|\bet al\.|"
    r"\bha(s|ve) (been|shown|achieved|demonstrated|made)\b",
    re.I,
)
FIRST_PERSON = re.compile(r"\b(we|our|us|this (paper|work|study))\b", re.I)
ASKS_EARLIER = re.compile(
    r"\b(previous|prior|existing|earlier|unlike|before|baselines?|compared?|other|why|problems?|"
    r"challenges?|limitations?|motivat\w*|drawbacks?|issues?)\b",
    re.I,
)
NOTICE = re.compile(
    r"https?://|github|\bcode (is|and|will)|\b(publicly )?available (at|here)\b|"
    r"\bwill be (made )?(publicly )?(available|released)\b",
    re.I,
)
ASKS_CODE = re.compile(r"\b(code|github|available|release[ds]?|open[- ]sourced?|download|link)\b", re.I)
# A PDF's body holds more than prose: figure and table captions, display code and formulas.
# They answer a question only when it asks about them.
CAPTION = re.compile(r"^\W*(?:figure|fig\.|table|listing|algorithm|exhibit)\s*[A-Z]?\d+[.:]", re.I)
ASKS_FIGURE = re.compile(
    r"\b(?:figures?|fig|tables?|plots?|graphs?|charts?|listings?|captions?|shown|displayed|illustrat\w*)\b", re.I
)
_PROMPT = re.compile(r"^\s*(?:R>|>|\$|\+|#)\s")
_CODE_MARKS = frozenset("(){}[]=<>$;\\#~|^_")


def looks_like_code(sentence: str) -> bool:
    """A line of display code or a formula rather than prose: a prompt, or dense with code marks."""
    text = sentence.strip()
    if not text:
        return False
    return bool(_PROMPT.match(text)) or "<-" in text or sum(c in _CODE_MARKS for c in text) > 0.06 * len(text)
