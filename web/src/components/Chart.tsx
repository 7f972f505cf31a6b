// A chart.js chart as a React component (canvas: nothing inline for the CSP to object to).
// The canvas carries an accessible name and a text summary for screen readers.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { useEffect, useRef, type ReactNode } from 'react';

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend, Filler);

export function ChartView({
  config,
  label,
  summary,
  height = 180,
}: {
  config: ChartConfiguration;
  label: string;
  summary: string;
  height?: number;
}): ReactNode {
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart(canvas.current, {
      ...config,
      options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options },
    } as ChartConfiguration);
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
    // Created once per mount; updates below change data in place.
  }, []);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data = config.data;
    c.update('none');
  }, [config.data]);
  return (
    <figure>
      <div className="ml-chart" style={{ height }}>
        <canvas ref={canvas} role="img" aria-label={`${label}: ${summary}`} />
      </div>
      <figcaption className="ml-skip">{summary}</figcaption>
    </figure>
  );
}
