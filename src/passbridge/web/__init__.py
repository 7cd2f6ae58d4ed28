"""Server-rendered pages: sign-in with a Temporary Access Pass, set-up, security info and "My apps".

They work without JavaScript; routes parse the form, call a service off the event loop and render.
"""
