// The chat page: one WebSocket to /ws, one JSON object per message, the same objects the
// terminal clients exchange. Every text goes into the page through textContent, never as HTML.
"use strict";

(function () {
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  const joinForm = document.getElementById("join");
  const nameInput = document.getElementById("name");
  const passwordInput = document.getElementById("password");
  const joinError = document.getElementById("join-error");
  const sayForm = document.getElementById("say");
  const textInput = document.getElementById("text");

  // Reconnects wait 0.5 s, doubling to 30 s, with some jitter so a restarted server is not
  // met by every page at the same instant; a connection that opened resets the wait.
  const FIRST_DELAY = 500;
  const MAX_DELAY = 30000;
  // The server drops a client silent for 10 minutes; an empty message now and then is
  // something, and carries nothing to the room.
  const KEEPALIVE = 60000;
  // The server refuses objects over 16 KiB; a longer message is stopped here instead.
  const MAX_OBJECT = 16 * 1024;

  let socket = null;
  let delay = FIRST_DELAY;
  let me = null;
  let wanted = localStorage.getItem("ferry-chat-name") || "";
  let joined = false;
  // An account's password, kept in this page's memory only (never in storage), so that a
  // reconnect logs in again; null for a guest.
  let secret = null;
  let keepalive = null;

  nameInput.value = wanted;

  function line(kind, name, text) {
    const item = document.createElement("li");
    item.className = kind;
    if (name !== null) {
      const who = document.createElement("span");
      who.className = "name";
      who.textContent = name;
      item.appendChild(who);
    }
    item.appendChild(document.createTextNode(text));
    const main = log.parentElement;
    const atBottom = main.scrollHeight - main.scrollTop - main.clientHeight < 40;
    log.appendChild(item);
    while (log.children.length > 1000) {
      log.removeChild(log.firstChild);
    }
    if (atBottom || kind.includes("mine")) {
      main.scrollTop = main.scrollHeight;
    }
  }

  function names(list, others) {
    const shown = list.filter(function (name) { return name !== me; }).slice(0, 5);
    const rest = list.length - shown.length - (list.includes(me) ? 1 : 0) + (others || 0);
    if (rest > 0) {
      return shown.join(", ") + (shown.length ? " and " : "") + rest + " other" +
        (rest === 1 ? "" : "s");
    }
    if (shown.length < 2) {
      return shown.join("");
    }
    return shown.slice(0, -1).join(", ") + " and " + shown[shown.length - 1];
  }

  function showJoin(error) {
    joined = false;
    joinForm.hidden = false;
    sayForm.hidden = true;
    joinError.hidden = !error;
    joinError.textContent = error || "";
    nameInput.focus();
  }

  function showSay() {
    joined = true;
    joinForm.hidden = true;
    sayForm.hidden = false;
    textInput.focus();
  }

  function send(object) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(object));
      return true;
    }
    return false;
  }

  function joinedAs(name) {
    me = name;
    localStorage.setItem("ferry-chat-name", me);
    showSay();
    line("notice", null, "you joined as " + me);
  }

  function handle(object) {
    if (typeof object !== "object" || object === null) {
      return;
    }
    if (object.type === "welcome" && typeof object.username === "string") {
      // Logged in or registered: the server's spelling of the account's name is the name.
      if (!joined) {
        joinedAs(object.username);
      }
    } else if (object.type === "join" && typeof object.username === "string") {
      if (object.username === wanted && !joined && secret === null) {
        joinedAs(wanted);
      } else if (object.username !== me) {
        line("notice", null, object.username + " joined");
      }
    } else if (object.type === "leave" && typeof object.username === "string") {
      line("notice", null, object.username + " left");
    } else if ((object.type === "joins" || object.type === "leaves") &&
               Array.isArray(object.usernames)) {
      const who = names(object.usernames, object.others);
      if (who) {
        line("notice", null, who + (object.type === "joins" ? " joined" : " left"));
      }
    } else if (object.type === "error" && typeof object.error === "string") {
      if (!joined) {
        me = null;
        secret = null;
        showJoin(object.error);
      } else {
        line("error", null, object.error);
      }
    } else if (typeof object.username === "string" && typeof object.message === "string") {
      line(object.history ? "history" : "message", object.username, object.message);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(scheme + "//" + location.host + "/ws");
    status.textContent = "connecting…";
    socket.onopen = function () {
      delay = FIRST_DELAY;
      status.textContent = "connected";
      // The history comes again with every connection: the log starts over with it.
      log.textContent = "";
      joined = false;
      if (me !== null && secret !== null) {
        send({ type: "login", username: me, password: secret });
      } else if (me !== null) {
        send({ username: me });
      } else if (wanted && joinForm.dataset.asked === "yes") {
        send(claim(joinForm.dataset.action || "join"));
      }
      keepalive = setInterval(function () {
        if (socket.readyState === WebSocket.OPEN) {
          socket.send("");
        }
      }, KEEPALIVE);
    };
    socket.onmessage = function (event) {
      let object;
      try {
        object = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      handle(object);
    };
    socket.onclose = function () {
      clearInterval(keepalive);
      socket = null;
      const wait = Math.round(delay * (0.75 + Math.random() / 2));
      status.textContent = "disconnected; trying again in " + Math.ceil(wait / 1000) + " s";
      setTimeout(connect, wait);
      delay = Math.min(delay * 2, MAX_DELAY);
    };
  }

  // What joining sends: a guest's name, or a login or registration when a password is given.
  function claim(action) {
    if (action === "register" || secret !== null) {
      return { type: action === "register" ? "register" : "login", username: wanted,
               password: secret };
    }
    return { username: wanted };
  }

  joinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    wanted = nameInput.value.trim();
    const action = event.submitter && event.submitter.value === "register" ? "register" : "join";
    secret = passwordInput.value === "" ? null : passwordInput.value;
    passwordInput.value = "";
    if (!wanted) {
      return;
    }
    if (action === "register" && secret === null) {
      showJoin("choose a password (at least 8 characters) to register");
      return;
    }
    me = null;
    joinForm.dataset.asked = "yes";
    joinForm.dataset.action = action;
    if (!send(claim(action))) {
      joinError.hidden = false;
      joinError.textContent = "not connected yet; joining once the connection is back";
    }
  });

  sayForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = textInput.value;
    if (!text.trim() || me === null) {
      return;
    }
    const object = { username: me, message: text };
    if (new TextEncoder().encode(JSON.stringify(object)).length > MAX_OBJECT) {
      line("error", null, "that message is longer than 16 KiB; it was not sent");
      return;
    }
    if (send(object)) {
      // The room does not echo a message to its sender.
      line("message mine", me, text);
      textInput.value = "";
    } else {
      line("error", null, "not connected; the message was not sent");
    }
  });

  showJoin(null);
  connect();
})();
