import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import Article from '@/components/Article';
import ArticleForm from '@/components/ArticleForm';
import ProgressBar from '@/components/ProgressBar';
import ThroughputChart from '@/components/ThroughputChart';
import { mockFetch } from './helpers';

describe('ProgressBar', () => {
  it('exposes its value to assistive technology and clamps it', () => {
    const { rerender } = render(<ProgressBar value={42.4} message="Drafting section 2 of 4" label="Job progress" />);
    const bar = screen.getByRole('progressbar', { name: 'Job progress' });
    expect(bar.getAttribute('aria-valuenow')).toBe('42');
    expect(bar.getAttribute('aria-valuemin')).toBe('0');
    expect(bar.getAttribute('aria-valuemax')).toBe('100');
    expect(bar.getAttribute('aria-valuetext')).toBe('42% – Drafting section 2 of 4');
    expect(screen.getByText('Drafting section 2 of 4')).toBeTruthy();
    rerender(<ProgressBar value={180} label="Job progress" />);
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
  });
});

describe('ArticleForm', () => {
  it('submits a generate_article job with the chosen options', async () => {
    const calls = mockFetch(({ method, url }) =>
      method === 'POST' && url === '/jobs' ? { status: 202, body: { id: 'J1', status: 'queued' } } : undefined,
    );
    const onSubmitted = vi.fn();
    render(<ArticleForm onSubmitted={onSubmitted} />);
    fireEvent.change(screen.getByLabelText('Topic'), { target: { value: '  Redis lists  ' } });
    fireEvent.change(screen.getByLabelText('Language'), { target: { value: 'de' } });
    fireEvent.change(screen.getByLabelText('Level'), { target: { value: 'advanced' } });
    fireEvent.change(screen.getByLabelText('Length'), { target: { value: 'long' } });
    fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    await waitFor(() => expect(onSubmitted).toHaveBeenCalledWith({ id: 'J1', status: 'queued' }));
    expect(calls[0].body).toEqual({
      type: 'generate_article',
      payload: { topic: 'Redis lists', language: 'de', level: 'advanced', length: 'long' },
    });
  });

  it('shows a 422 answer next to the field it names', async () => {
    mockFetch(() => ({
      status: 422,
      body: {
        detail: [
          { loc: ['body', 'payload', 'topic'], msg: 'String should have at least 1 character', type: 'string_too_short' },
          { loc: ['body', 'priority'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' },
        ],
      },
    }));
    const onSubmitted = vi.fn();
    render(<ArticleForm onSubmitted={onSubmitted} />);
    fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    const topic = screen.getByLabelText('Topic');
    await waitFor(() => expect(topic.getAttribute('aria-invalid')).toBe('true'));
    const described = document.getElementById(topic.getAttribute('aria-describedby')!);
    expect(described?.textContent).toBe('String should have at least 1 character');
    expect(screen.getByRole('alert').textContent).toContain('priority: Extra inputs are not permitted');
    expect(onSubmitted).not.toHaveBeenCalled();
    expect((screen.getByRole('button', { name: 'Generate' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('says so when the API cannot be reached', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    render(<ArticleForm onSubmitted={() => {}} />);
    fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    expect((await screen.findByRole('alert')).textContent).toContain('cannot be reached');
  });
});

describe('Article', () => {
  it('renders Markdown as elements', () => {
    render(
      <Article
        result={{ title: 'Queues', markdown: '# Queues\n\n## Why\n\nSome **bold** text.\n\n- one\n- two', words: 7, provider: 'offline' }}
      />,
    );
    expect(screen.getByRole('heading', { level: 2, name: 'Queues' })).toBeTruthy();
    expect(screen.getAllByRole('heading', { name: 'Queues' })).toHaveLength(1); // the repeated title is dropped
    expect(screen.getByRole('heading', { level: 3, name: 'Why' })).toBeTruthy();
    expect(screen.getByText('bold').tagName).toBe('STRONG');
    expect(screen.getAllByRole('listitem')).toHaveLength(2);
    expect(screen.getByText('7 words')).toBeTruthy();
    expect(screen.getByText('provider: offline')).toBeTruthy();
  });

  it('never turns untrusted text into live HTML', () => {
    const evil = [
      '<script>window.__pwned = 1</script>',
      '<img src=x onerror="window.__pwned = 1">',
      '[click](javascript:window.__pwned=1)',
      '![tracker](http://198.51.100.1/pixel.png)',
      '<a href="javascript:alert(1)">raw link</a>',
    ].join('\n\n');
    const { container } = render(<Article result={{ title: 'T', markdown: evil, words: 1, provider: 'x' }} />);
    expect(container.querySelector('script')).toBeNull();
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('[onerror]')).toBeNull();
    for (const a of container.querySelectorAll('a')) expect(a.getAttribute('href') ?? '').not.toMatch(/^javascript:/i);
    expect(container.textContent).toContain('click');
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });
});

describe('ThroughputChart', () => {
  it('draws the rate line and says the current and peak rate', () => {
    const now = 300_000;
    const points = [
      { t: now - 4000, perSec: 2 },
      { t: now - 2000, perSec: 8 },
      { t: now, perSec: 4 },
    ];
    const { container } = render(<ThroughputChart points={points} windowMs={300_000} now={now} />);
    const img = screen.getByRole('img');
    expect(img.getAttribute('aria-label')).toContain('now 4.0');
    expect(img.getAttribute('aria-label')).toContain('peak 8.0');
    const d = container.querySelector('path.line')!.getAttribute('d')!;
    expect(d.match(/[ML]/g)).toHaveLength(3);
    expect(within(img as unknown as HTMLElement).getByText('10')).toBeTruthy(); // y axis rounded up from 8
  });

  it('shows an empty chart while collecting samples', () => {
    const { container } = render(<ThroughputChart points={[]} windowMs={300_000} now={0} />);
    expect(container.querySelector('path.line')).toBeNull();
    expect(screen.getByRole('img').getAttribute('aria-label')).toContain('collecting');
  });
});

