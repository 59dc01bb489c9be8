"""The receipt code: given once a case holds something for the commission, and with it a
person comes back on any channel, reads the commission's replies and keeps writing."""

from __future__ import annotations

import re
from pathlib import Path

from bot.service import Conversations
from bot.store_keeper import StoreKeeper
from flows.engine import ReceiptChecked, ReceiptIssued, handle
from flows.messages import ReceiptPresented, ReceiptRequested
from storage import CommissionPrivateKey, ReceiptPolicy, ServerSecrets, Store
from storage.policy import Argon2Cost
from tests.conftest import NOW, RESOURCES, Chat, context

CODE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")
CHEAP = ReceiptPolicy(hash_cost=Argon2Cost(time_cost=1, memory_cost_kib=8, parallelism=1))


def test_the_first_message_for_the_commission_asks_for_a_receipt_once() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(["relative", "1", "weeks", "skip", "yes"])
    reply = chat.say("Mon mari ne dort plus.")
    assert ReceiptRequested() in reply.effects
    chat.say("passer")
    chat.say("écrire")
    again = chat.say("Et il boit.")
    assert ReceiptRequested() not in again.effects


def test_the_code_is_said_once_and_never_kept() -> None:
    chat = Chat(commission_connected=True)
    chat.answer_all(["relative", "1", "weeks", "skip", "yes", "Mon mari ne dort plus."])
    step = chat.step
    reply = handle(chat.state, ReceiptIssued("7K2M-9X4P-8Q1R-3S05"), context())
    assert "7K2M-9X4P-8Q1R-3S05" in reply.messages[0].text
    assert reply.messages[-1].question == step
    assert "7K2M" not in str(reply.state.to_dict())


def test_a_typed_code_is_checked_and_the_replies_are_read() -> None:
    chat = Chat()
    chat.say("self")
    reply = chat.say("7k2m 9x4p 8q1r 3s05")
    assert ReceiptPresented("7k2m 9x4p 8q1r 3s05") in reply.effects
    checked = handle(chat.state, ReceiptChecked(True, replies=("Nous vous appelons.",)), context())
    texts = [m.text for m in checked.messages]
    assert any("Nous vous appelons." in t for t in texts)
    assert checked.messages[-1].question == "practice"


async def test_coming_back_on_another_channel_with_the_code(tmp_path: Path) -> None:
    store = await Store.open(
        f"sqlite+aiosqlite:///{tmp_path / 'entraide.sqlite3'}",
        ServerSecrets.generate(CommissionPrivateKey.generate().public()),
        case_keys_file=tmp_path / "case-keys.sqlite3",
        receipts=CHEAP,
    )
    try:
        def channel(name: str) -> Conversations:
            return Conversations(
                resources=RESOURCES, channel=name, keeper=StoreKeeper(store),
                commission_connected=True, clock=lambda: NOW,
            )

        matrix, telegram = channel("matrix"), channel("telegram")
        await matrix.welcome("@someone:example.org")
        for text in ["relative", "1", "weeks", "skip", "yes"]:
            await matrix.receive("@someone:example.org", text)
        said = await matrix.receive("@someone:example.org", "Mon mari ne dort plus.")
        codes = {code for m in said for code in CODE.findall(m.text)}
        assert len(codes) == 1
        code = codes.pop()
        first = await store.load_conversation(store.pseudonym("matrix", "@someone:example.org"))
        assert first is not None
        case_id = first.case_id
        await store.append_reply(case_id, "Un conseiller vous appelle demain.")

        await telegram.welcome("123456")
        for wrong in ["AAAA-BBBB-CCCC-0000"] * 3:
            said = await telegram.receive("123456", wrong)
            assert any("aucun dossier" in m.text for m in said)
        said = await telegram.receive("123456", code.lower().replace("-", " "))
        assert any("Un conseiller vous appelle demain." in m.text for m in said)
        await telegram.receive("123456", "écrire")
        await telegram.receive("123456", "Merci, je serai là.")
        assert len(await store.sealed_messages(case_id)) == 2

        for _ in range(5):
            said = await telegram.receive("123456", "AAAA-BBBB-CCCC-0000")
        assert any("Trop d'essais" in m.text for m in said)
    finally:
        await store.close()
