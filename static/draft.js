// Keeps what is typed into the message form for this tab (sessionStorage), so a user who
// goes back after an error (a message too long, the store not confirming) finds it again, and
// forgets it once the sent page is shown. Without scripts the form works the same, unkept.
(function () {
  "use strict";
  var KEY = "ferry-draft";
  var store;
  try {
    store = window.sessionStorage;
  } catch (error) {
    return;
  }
  var form = document.querySelector('form[action="/message"]');
  if (!form) {
    if (document.querySelector("main.notice")) {
      store.removeItem(KEY);
    }
    return;
  }
  var fields = ["username", "message"];
  function save() {
    var draft = {};
    fields.forEach(function (name) {
      if (form.elements[name]) {
        draft[name] = form.elements[name].value;
      }
    });
    store.setItem(KEY, JSON.stringify(draft));
  }
  function restore() {
    var draft;
    try {
      draft = JSON.parse(store.getItem(KEY) || "{}");
    } catch (error) {
      return;
    }
    fields.forEach(function (name) {
      var field = form.elements[name];
      if (field && !field.value && typeof draft[name] === "string") {
        field.value = draft[name];
      }
    });
  }
  restore();
  window.addEventListener("pageshow", restore);
  form.addEventListener("input", save);
})();
