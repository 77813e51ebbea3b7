// The playground's one script: "Copy Command" puts the shown curl command on the clipboard. Everything else
// works without JavaScript.
for (const button of document.querySelectorAll('button[data-copy]')) {
  button.addEventListener('click', async () => {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = 'Copied';
  });
}
