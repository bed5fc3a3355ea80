"""QA round 40 on the engines as a user with their own model and their own vLLM meets
them: a restarted vLLM after an admin deleted a kept version's folder, a base whose chat
template refuses ATRI's chats. The vLLM is the fake of test_openai.py (vLLM's own routes
and answers); the local engine runs the real tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from atri.config import ConfigError, Settings
from model.engines import create_engine
from model.engines.chat_template import ChatTemplateError
from model.engines.loading import NoChatTemplateError
from model.engines.openai import OpenAIEngine
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.conftest import V1, V2, MakeVersion
from tests.model.engines.test_openai import QWEN, FakeVllm, readme_settings, replicas


def say(text: str) -> ChatRequest:
    return ChatRequest(platform="test", user_id="u", text=text)


async def test_a_restarted_vllm_comes_back_without_a_kept_version_deleted_by_hand(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    """V2 live, V1 kept for a rollback; an admin deletes V1's folder to free disk, then
    vLLM restarts. The replica came back only if every registered version loaded again,
    so it stayed out for good and every user got her error line. The live version is
    enough: V1 is said once and dropped, and a rollback goes to the base model."""
    caplog.set_level("INFO", logger="model.engines.openai")
    fake = FakeVllm()
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        async with await ChatService.open(settings) as service:
            engine = service.engine
            assert isinstance(engine, OpenAIEngine)
            assert service.reloader is not None
            v1 = make_version(V1, base_model=QWEN)
            assert (await service.reloader.check()).ok  # type: ignore[union-attr]
            make_version(V2, base_model=QWEN)
            assert (await service.reloader.check()).ok  # type: ignore[union-attr]
            assert set(engine.loras) == {V1, V2}  # V1 kept (keep_previous = 1)

            backup = v1.with_name("kept-aside")
            shutil.copytree(v1, backup)
            shutil.rmtree(v1)
            fake.restart()
            for i in range(3):
                reply = await service.chat(say(f"back {i}"))
                assert (reply.status, reply.text) == ("ok", f"[{V2}] back {i}")
            assert engine.replicas[0].down_since is None
            assert V1 not in engine.loras and V1 not in fake.loras
            dropped = [
                r
                for r in caplog.records
                if r.name == "model.engines.openai" and V1 in r.getMessage()
            ]
            assert len(dropped) == 1 and dropped[0].levelname == "WARNING"
            assert not [r for r in caplog.records if r.exc_info]

            # Asked for by name, it is looked for in its folder again, not taken as loaded.
            again = await service.reloader.reload(V1)
            assert not again.ok and "is not loaded" not in again.message, again
            assert not [r for r in caplog.records if r.exc_info]
            backup.rename(v1)  # the admin puts it back
            again = await service.reloader.reload(V1)
            assert again.ok, again
            assert (await service.chat(say("old"))).text == f"[{V1}] old"
            rolled = await service.reloader.rollback()
            assert rolled.ok, rolled
            assert (await service.chat(say("base"))).text == "[atri-base] base"


# A template that refuses every chat, whatever its shape: a typo'd filter (refused when
# transformers compiles it), and a model card's "only user and assistant" guard.
REFUSING_TEMPLATES = [
    "{% for m in messages %}{{ m['content'] | nosuchfilter }}{% endfor %}",
    "{{ raise_exception('Conversation roles must be user or assistant') }}",
]


@pytest.mark.parametrize("template", REFUSING_TEMPLATES)
async def test_a_base_whose_template_refuses_atris_chats_is_one_sentence_at_start(
    tiny_settings: Settings, tiny_model_dir: Path, tmp_path: Path, template: str
) -> None:
    """The worker started, then every chat failed with her error line (and the reason in
    the log, a chat at a time), as the llama.cpp engine did before session 39: said once
    at start now, naming the model and what to do."""
    base = tmp_path / "my-model"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").write_text(template, encoding="utf-8")
    tiny_settings.model.base = str(base)
    with pytest.raises(ChatTemplateError) as refused:
        await create_engine(tiny_settings)
    message = str(refused.value)
    assert f'[model] base = "{base}"' in message
    assert "refuses a chat of system, user and assistant messages" in message
    assert "[model] chat_template in config.toml" in message
    assert "\n" not in message

    # The fix it names: a template of the user's own in config.toml.
    tiny_settings.model.chat_template = (tiny_model_dir / "chat_template.jinja").read_text(
        encoding="utf-8"
    )
    engine = await create_engine(tiny_settings)
    try:
        hello = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}]
        [reply] = await engine.generate([hello], tiny_settings.generation)
        assert reply.new_tokens > 0
    finally:
        await engine.close()


async def test_a_base_without_a_chat_template_is_said_before_its_weights_load(
    tiny_settings: Settings,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A base (not instruct) model has no chat template: that was said only once its
    weights had loaded (minutes for a 7B model), and without naming the model."""
    import transformers

    base = tmp_path / "my-base-model"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").unlink()
    tiny_settings.model.base = str(base)

    def no_weights(*args: object, **kwargs: object) -> None:
        raise AssertionError("the weights were loaded before the chat template was checked")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_weights)
    with pytest.raises(NoChatTemplateError) as refused:
        await create_engine(tiny_settings)
    assert str(refused.value).startswith(f'[model] base = "{base}" has no chat template')
    assert "[model] chat_template in config.toml" in str(refused.value)


async def test_a_start_adapter_of_another_base_is_one_sentence_naming_the_key(
    reload_settings: Settings, make_version: MakeVersion, wide_model_dir: Path
) -> None:
    """`[model] adapter` = a version trained on another base of the same layer sizes
    was served, its replies from weights made for another model, while the reload job
    refuses that same version; one of another size was refused without naming the key."""
    reload_settings.model.adapter = str(
        make_version(V1, base_model=QWEN, config_hash="0123456789abcdef")
    )
    with pytest.raises(ConfigError) as refused:
        await ChatService.open(reload_settings)
    message = str(refused.value)
    assert message.startswith(f'[model] adapter = "{reload_settings.model.adapter}": ')
    assert f"it was trained on {QWEN!r}, a base model with config hash 0123456789abcdef" in message
    assert message.endswith('point it at an adapter trained on [model] base, or set it to "".')

    reload_settings.model.adapter = str(
        make_version(V2, model_dir=wide_model_dir, base_model=str(wide_model_dir))
    )
    with pytest.raises(ConfigError) as refused:
        await ChatService.open(reload_settings)
    assert str(refused.value).startswith(f'[model] adapter = "{reload_settings.model.adapter}": ')
    assert "it was trained on another model size" in str(refused.value)
