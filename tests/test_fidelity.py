"""The detail check of LLM answers (assistant/fidelity.py): a cited sentence may not carry a
number, name or acronym its passages do not have -- and benign rewordings must pass."""

import pytest

from assistant.answering.fidelity import answer_sentences, check_answer, details, unsupported

TITLE = "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"
ZEROTA = (
    "We propose ZeroTA, a novel method for dense video captioning in a zero-shot manner. This joint "
    "optimization aligns a frozen language generation model (i.e., GPT-2) with a frozen vision-language "
    "contrastive model (i.e., CLIP). We also introduce a pairwise temporal IoU loss. ZeroTA surpasses "
    "zero-shot baselines on the widely-used benchmark ActivityNet Captions, released in 2023."
)
NUMBERS = (
    "With 34% learnable parameters and utilizing 72\\% of the available data, our model improves 4-shot "
    "Flickr captioning from 57.2% to 65.1%. RepARe gives a 3.85% (absolute) increase on VQAv2. We train on "
    "30M image-text pairs with LLaVA-1.5 and ImageNet-1K over ten epochs, using 1.50 times fewer steps "
    "than two-stage LLMs, with a 22 % gain."
)
SOURCES = [TITLE, ZEROTA, NUMBERS]


@pytest.mark.parametrize(
    "sentence,missing",
    [
        # a changed number
        ("The model improves Flickr captioning to 67.1% [1].", ["67.1%"]),
        ("RepARe gives a 3.58% increase on VQAv2 [1].", ["3.58%"]),
        ("It uses 40% learnable parameters [1].", ["40%"]),
        ("It trains on 30K image-text pairs [1].", ["30K"]),
        ("It trains over twelve epochs [1].", ["twelve"]),
        ("It improves 4-shot captioning by 4 points [1].", []),  # 4 is in the passage ("4-shot")
        ("A 57% gain [1].", ["57%"]),  # rounding is not the passage's number (57.2%)
        ("It uses 30 learnable parameters and 4% of the data [1].", ["4%"]),  # 4 is there, 4% is not
        # a swapped or altered model name
        ("ZeroTA aligns a frozen GPT-3 with CLIP [1].", ["GPT-3"]),
        (
            "It aligns a frozen language generation model (iGPT-2) with a frozen vision-language contrastive model "
            "(iGV-2) [1].",
            ["iGPT-2", "iGV-2"],
        ),
        ("It builds on LLaVA-1.6 [1].", ["LLaVA-1.6"]),
        ("It aligns GPT-2 with SigLIP [1].", ["SigLIP"]),
        # an invented acronym
        ("ZeroTA adds a pairwise temporal IoU loss and a DTW alignment [1].", ["DTW"]),
        ("The method is called ZVCT [1].", ["ZVCT"]),
        # a wrong year
        ("ZeroTA was released in 2021 [1].", ["2021"]),
        # an altered data-set or benchmark name
        ("It pretrains on ImageNet-21K [1].", ["ImageNet-21K"]),
        ("ZeroTA beats zero-shot baselines on ActivityNet-200 [1].", ["ActivityNet-200"]),
        ("ZeroTA beats zero-shot baselines on Kinetics and MSR-VTT [1].", ["Kinetics", "MSR-VTT"]),
        # names of people and things that are capitalised words
        ("As Smith et al. showed, ZeroTA needs no videos [1].", ["Smith"]),
        ("Vicuna is the language model it uses [1].", ["Vicuna"]),  # a rare word starting a sentence is a name
        ("It runs on Falcon [1].", ["Falcon"]),
    ],
)
def test_unfaithful_details_are_found(sentence, missing):
    assert unsupported(sentence, SOURCES) == missing


@pytest.mark.parametrize(
    "sentence",
    [
        # plurals, case, possessives, hyphenation and joining
        "ZeroTA, unlike most LLM work, aligns GPT-2 with CLIP [1].",  # "LLM" against the passage's "LLMs"
        "Two-stage LLM training [1].",
        "ZEROTA aligns GPT2 with CLIP's vision-language model [1].",
        "ZeroTA is Zero-Shot and works zero shot on Activitynet captions [1].",
        "It uses GPT 2 and ImageNet 1K [1].",
        "It uses LLaVA, as in LLaVA-1.5 [1].",  # a shorter name than the passage's
        # names from the cited paper's title; capitalised ordinary words
        "Dense Video Captioning here means Jointly Optimizing Text and Moment [1].",
        "The Pairwise Temporal IoU Loss keeps the masks apart [1].",
        # sentence-initial ordinary words
        "The method aligns GPT-2 with CLIP [1].",
        "Our model improves 4-shot Flickr captioning [1].",
        "Moreover, this is zero-shot [1].",
        "Symmetrical losses are not used [1].",
        # numbers written differently
        "It improves captioning from 57.2 % to 65.1 percent [1].",
        "It uses 72% of the data and 34 percent of the parameters [1].",  # "72\\%" in the abstract
        "It trains over 10 epochs with 1.5 times fewer steps [1].",  # "ten", "1.50"
        "It trains on 30 million pairs, that is 30,000,000 [1].",
        "It trains on 30M pairs [1].",
        "It is a two stage method with a 22% gain [1].",
        "It trains on 30 pairs of millions [1].",  # a bare 30 may come from "30M"
        # Unicode dashes and accents
        "ZeroTA aligns GPT\u20112 with CLIP and uses LLaVA\u20131.5 [1].",
        "It builds on Sch\u00f6lkopf's kernels [1].",
        # list numbering, markers and Markdown
        "1. **ZeroTA** aligns GPT-2 with CLIP [1].",
        "It (1) aligns GPT-2 and (2) uses CLIP [1][3].",
        "It reads \\[IoU\\] scores with CLIP [2].",
        # a last word cut by a length limit
        "The method is a combination of GPT-2 and the Activity [1].",
        # an acronym of words the passage spells out
        "The VLC model aligns GPT-2 with CLIP [1].",  # "vision-language contrastive"
    ],
)
def test_benign_variants_pass(sentence):
    sources = SOURCES + ["Kernel methods by Scholkopf"] if "lkopf" in sentence else SOURCES
    assert unsupported(sentence, sources) == []


def test_details_keep_names_whole_and_numbers_with_their_scale():
    found = {
        d.text: d.kind
        for d in details(
            "LLaVA-1.5-7B, Qwen2-VL and ViT-L/14 beat CLIP-based 3D models with 1.5B parameters and 22 % gains."
        )
    }
    assert found == {
        "LLaVA-1.5-7B": "name",
        "Qwen2-VL": "name",
        "ViT-L/14": "name",
        "CLIP": "name",
        "3D": "name",
        "1.5B": "number",
        "22%": "number",
    }
    assert details("The model, our method and this work [1].") == []  # nothing to check
    assert details("3. Then (4) it works [2].") == []  # list numbering


def test_a_name_must_be_as_long_as_written():
    assert unsupported("It uses LLaVA-1.5 [1].", ["It uses LLaVA."]) == ["LLaVA-1.5"]
    assert unsupported("It uses LLaVA [1].", ["It uses LLaVA-1.5."]) == []


def test_each_sentence_is_checked_against_what_it_cites():
    text = (
        "ZeroTA aligns GPT-2 with CLIP [1]. It trains on 30M pairs [2]. It trains on 30M pairs [1]. "
        "It uses LLaVA-1.5. [2] Nothing cited mentions Kinetics."
    )
    checks = check_answer(text, {1: [TITLE, ZEROTA], 2: [NUMBERS]})
    assert [(c.cited, c.missing) for c in checks] == [
        ([1], []),
        ([2], []),
        ([1], ["30M"]),
        ([2], []),
        ([], ["Kinetics"]),
    ]


def test_answer_sentences_give_a_marker_after_the_full_stop_to_its_sentence():
    assert answer_sentences("A claim. [1] Another one [2][3].\n\n- A third. [1]") == [
        ("A claim.", [1]),
        ("Another one [2][3].", [2, 3]),
        ("- A third.", [1]),
    ]


def test_latex_left_in_abstracts_and_words_for_numbers_are_read():
    abstract = "It reaches 76\\(\\%\\) accuracy, up from 57.2% to 65.\\%, on a pair of benchmarks (LVIS and COCO)."
    assert unsupported("It reaches 76% accuracy, about 65%, on LVIS/COCO [1].", [abstract]) == []
    assert unsupported("It reaches 67% on LVIS/OmniLabel [1].", [abstract]) == ["67%", "OmniLabel"]
    # "a pair" is not read as two: a claim's "two images" may count the wrong thing
    assert unsupported("It uses two benchmarks [1].", [abstract]) == ["two"]


def test_an_acronym_matches_only_words_the_passage_spells_out():
    passage = "We release a large language model for natural language inference."
    assert unsupported("Its LLM does NLI; LLMs do too [1].", [passage]) == []
    assert unsupported("Its LLM does VQA [1].", [passage]) == ["VQA"]
    assert unsupported("The method is called ZSDVC [1].", SOURCES) == []  # "Zero-Shot Dense Video Captioning"
