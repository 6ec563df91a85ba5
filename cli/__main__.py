from cli.main import app

if __name__ == "__main__":  # the guard matters: loader worker processes import the main module
    app(prog_name="oversight")
