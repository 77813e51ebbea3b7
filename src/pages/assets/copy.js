// The pages' one script: a "Copy" button puts the text of the element it names (data-copy="<id>") on the
// clipboard. Progressive enhancement: copy buttons that need it are rendered `hidden` and shown here, so
// without JavaScript nobody sees a button that does nothing; everything else works without JavaScript.
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.hidden = false;
  const label = button.textContent;
  button.addEventListener('click', async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = 'Copied';
    setTimeout(() => {
      button.textContent = label;
    }, 2000);
  });
}
