// The favicon with the unread count on it, drawn on a canvas (a data: URL, which the page's policy allows).
const SIZE = 32;
let plain: string | null = null;

export function drawFavicon(count: number): string | null {
  const canvas = document.createElement("canvas");
  canvas.width = SIZE;
  canvas.height = SIZE;
  let context: CanvasRenderingContext2D | null = null;
  try {
    context = canvas.getContext("2d");
  } catch {
    context = null;
  }
  if (!context) return null;
  if (count <= 0 && plain) return plain;
  context.fillStyle = "#1d5fd1";
  context.beginPath();
  context.arc(16, 16, 14, 0, Math.PI * 2);
  context.fill();
  context.fillStyle = "#ffffff";
  context.font = "bold 18px sans-serif";
  context.textAlign = "center";
  context.textBaseline = "middle";
  context.fillText("R", 16, 17);
  if (count > 0) {
    const text = count > 99 ? "99+" : String(count);
    context.fillStyle = "#d93025";
    context.beginPath();
    context.arc(22, 10, 10, 0, Math.PI * 2);
    context.fill();
    context.fillStyle = "#ffffff";
    context.font = `bold ${text.length > 2 ? 9 : 13}px sans-serif`;
    context.fillText(text, 22, 11);
  }
  const url = canvas.toDataURL("image/png");
  if (count <= 0) plain = url;
  return url;
}
