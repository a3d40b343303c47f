// The listing's upload, new-folder and delete controls. Each file is sent with its own PUT
// (XMLHttpRequest, for its upload progress), so browser uploads take the server's atomic path.
(function () {
  'use strict';
  var section = document.getElementById('upload');
  var progress = document.getElementById('progress');
  var pick = document.getElementById('pick');
  var AT_ONCE = 2;
  var queue = [];
  var running = 0;
  var failures = 0;
  var sent = 0;
  section.hidden = false;

  // Names are encoded whole, so `a#b?.txt` is a file of this folder, not a query or fragment.
  function url(name) {
    return encodeURIComponent(name);
  }

  function row(name) {
    var item = document.createElement('li');
    var label = document.createElement('span');
    label.className = 'file';
    label.textContent = name;
    label.title = name;
    var bar = document.createElement('progress');
    bar.max = 1;
    bar.value = 0;
    var state = document.createElement('span');
    state.className = 'state';
    state.textContent = 'waiting';
    item.appendChild(label);
    item.appendChild(bar);
    item.appendChild(state);
    progress.appendChild(item);
    return { item: item, bar: bar, state: state };
  }

  function add(files) {
    for (var i = 0; i < files.length; i++) {
      queue.push({ file: files[i], view: row(files[i].name) });
    }
    next();
  }

  function next() {
    while (running < AT_ONCE && queue.length > 0) {
      send(queue.shift());
    }
    if (running === 0 && queue.length === 0 && sent + failures > 0 && failures === 0) {
      try {
        sessionStorage.setItem('ferry-uploaded', String(sent));
      } catch (e) { /* private mode: no note, same reload */ }
      location.reload();
    }
  }

  function send(job) {
    running++;
    var view = job.view;
    var request = new XMLHttpRequest();
    request.open('PUT', url(job.file.name));
    request.upload.onprogress = function (event) {
      if (event.lengthComputable && event.total > 0) {
        view.bar.max = event.total;
        view.bar.value = event.loaded;
        view.state.textContent = Math.floor((100 * event.loaded) / event.total) + '%';
      }
    };
    request.onload = function () {
      if (request.status >= 200 && request.status < 300) {
        view.bar.max = 1;
        view.bar.value = 1;
        view.state.textContent = 'done';
        sent++;
      } else {
        fail(view, request.status + ' ' + request.statusText);
      }
      running--;
      next();
    };
    request.onerror = function () {
      fail(view, 'not sent');
      running--;
      next();
    };
    view.state.textContent = '0%';
    request.send(job.file);
  }

  function fail(view, why) {
    failures++;
    view.item.className = 'failed';
    view.state.textContent = why;
  }

  pick.addEventListener('change', function () {
    add(pick.files);
    pick.value = '';
  });

  var depth = 0;
  document.addEventListener('dragenter', function (event) {
    event.preventDefault();
    depth++;
    document.body.classList.add('dragging');
  });
  document.addEventListener('dragleave', function () {
    depth = Math.max(0, depth - 1);
    if (depth === 0) {
      document.body.classList.remove('dragging');
    }
  });
  document.addEventListener('dragover', function (event) {
    event.preventDefault();
  });
  document.addEventListener('drop', function (event) {
    event.preventDefault();
    depth = 0;
    document.body.classList.remove('dragging');
    if (event.dataTransfer && event.dataTransfer.files.length > 0) {
      add(event.dataTransfer.files);
    }
  });

  function change(method, target, done) {
    var request = new XMLHttpRequest();
    request.open(method, target);
    request.onload = function () {
      if (request.status >= 200 && request.status < 300) {
        location.reload();
      } else {
        alert(done + ' failed: ' + request.status + ' ' + request.statusText);
      }
    };
    request.onerror = function () {
      alert(done + ' failed: the server did not answer');
    };
    request.send();
  }

  document.getElementById('mkdir').addEventListener('click', function () {
    var name = prompt('Name of the new folder');
    if (!name) {
      return;
    }
    if (name.indexOf('/') >= 0 || name === '.' || name === '..') {
      alert('A folder name cannot hold "/" or be "." or "..".');
      return;
    }
    change('PUT', url(name) + '/', 'Creating the folder');
  });

  var buttons = document.querySelectorAll('button.del');
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].addEventListener('click', function (event) {
      var button = event.currentTarget;
      var name = button.getAttribute('aria-label').replace(/^Delete /, '');
      if (confirm('Delete ' + name + '? This cannot be undone.')) {
        change('DELETE', button.getAttribute('data-href'), 'Deleting ' + name);
      }
    });
  }

  var uploaded = null;
  try {
    uploaded = sessionStorage.getItem('ferry-uploaded');
    sessionStorage.removeItem('ferry-uploaded');
  } catch (e) { /* no storage: no note */ }
  if (uploaded) {
    var note = document.createElement('li');
    note.className = 'note';
    note.textContent = 'Uploaded ' + uploaded + (uploaded === '1' ? ' file.' : ' files.');
    progress.appendChild(note);
  }
})();
