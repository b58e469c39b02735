"""The test kit: what the tests, the benchmarks and the local runner share.

The template builder (`template.TemplateStack`), sample events (`events`), fault
injection for boto3 clients (`faults`), HTTP stand-ins (`standins`), a sender that
signs as ROUND0 does (`sender`), the expected side effects of a run (`scenario`), the
AWS calls code makes, counted, metered or answered without AWS (`calls`), and a cold
start in-process (`sandbox`).
It imports the deployed layer, never the runner (`round0_local`); nothing here is
deployed.
"""
