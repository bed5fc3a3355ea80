from atri.cli import app

app(prog_name="atri")
