"""The web pages: the command-centre map, the phone report page, the supplies map and the
incident page. HTML comes from Jinja templates (and folium for the map); the pages read and
write through the same JSON API as everyone else, with the signed-in user's token."""
