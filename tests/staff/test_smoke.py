import pytest


@pytest.mark.django_db
def test_it_shows_the_landing_page_to_visitors(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Email me a sign-in code" in response.content
