"""What the tests and the benchmarks both use to start and drive the product: child processes on
free ports (`processes`), the whole product stack (`stack`), the handoff service in-process with
a JSON client (`service`), and handoff data built as the bot and Rasa send it (`handoff_data`,
`rasa_events`). Not part of the product; nothing in `actions/`, `bot/`, `connectors/`,
`contracts/` or `handoff/` imports it."""
