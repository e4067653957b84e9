"""Plain (undecorated) functions used as activities from another module's workflow."""


def shout(text):
    return text.upper()
