"""The Telegram channel: private chats through python-telegram-bot, with an honest notice
that Telegram's servers read them."""
