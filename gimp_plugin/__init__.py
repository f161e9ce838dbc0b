"""GIMP plug-in sources (shipped as package data; `jewel-retouch install gimp` copies them).

gimp3/jewel-retouch.py runs inside GIMP 3, gimp2/jewel_retouch_gimp2.py inside GIMP 2.10,
and jewel_retouch_client.py beside either. None of them is imported by the server.
"""
