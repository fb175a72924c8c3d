# FiG Safety: one image for the web server, the Celery worker and Celery beat.
# docker-compose.yml picks the process with `command:`; the default is gunicorn.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=fig_safety.settings

# The processes run as an unprivileged user with a home directory (gunicorn
# puts its control socket under $HOME/.gunicorn).
RUN groupadd --system --gid 10001 fig \
    && useradd --system --uid 10001 --gid fig --home-dir /home/fig --create-home \
       --shell /usr/sbin/nologin fig

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# The code stays owned by root: the app user can read it, not change it.
COPY . .

# Static files are collected at build time, with throwaway values that exist
# only for this one command (no secret is baked into the image; FIG_STORAGE
# and DATABASE_URL fall back to local/SQLite, which collectstatic never uses).
# The web service collects again at start; staticfiles/ is the app user's so it can.
# var/ is recreated empty: the app's scratch folder (beat keeps its schedule there). The post checks' name
# lists are built into it once, here (about 15 s and 1 GB, from the installed names-dataset package), so no
# web process ever builds them (social/posts/checks/name_lists.py).
RUN DJANGO_SECRET_KEY=build-only EMAIL_URL=consolemail:// \
        python manage.py collectstatic --noinput \
    && chown -R fig:fig /app/staticfiles \
    && rm -rf /app/var \
    && install -d -o fig -g fig -m 0700 /app/var \
    && DJANGO_SECRET_KEY=build-only EMAIL_URL=consolemail:// \
        python manage.py shell -c "from social.posts.checks.name_lists import name_lists; name_lists()" \
    && chown -R fig:fig /app/var

USER fig

EXPOSE 8000

# Any answer below 500 means gunicorn and Django are serving. The request carries
# an allowed Host and X-Forwarded-Proto so it is not refused or sent to https.
# Only meaningful for the web process; compose overrides it for worker and beat.
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
    CMD python -c "import http.client,os,sys; h=(os.environ.get('DJANGO_ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('.'); h='localhost' if (not h or '*' in h) else h; c=http.client.HTTPConnection('127.0.0.1',8000,timeout=8); c.request('GET','/accounts/login/',headers={'Host':h,'X-Forwarded-Proto':'https'}); sys.exit(0 if c.getresponse().status<500 else 1)"

# Bind, workers (GUNICORN_WORKERS) and the redacted access log: fig_safety/gunicorn_conf.py.
CMD ["gunicorn", "-c", "python:fig_safety.gunicorn_conf", "fig_safety.wsgi"]
