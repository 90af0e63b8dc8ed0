'use client';

import Markdown, { type Components } from 'react-markdown';
import type { ArticleResult } from '@/lib/api';

// LLM output is untrusted: react-markdown builds React elements (never an HTML
// string), raw HTML in the text is shown as text, unsafe URL schemes are dropped by
// its default URL transform, and images are not loaded at all.
// Headings sit below the article's own title (h2): # and ## become h3, ### h4, the rest h5.
const components: Components = {
  h1: ({ children }) => <h3>{children}</h3>,
  h2: ({ children }) => <h3>{children}</h3>,
  h3: ({ children }) => <h4>{children}</h4>,
  h4: ({ children }) => <h5>{children}</h5>,
  h5: ({ children }) => <h5>{children}</h5>,
  h6: ({ children }) => <h5>{children}</h5>,
  a: ({ href, children }) => (
    <a href={href} rel="noopener noreferrer nofollow" target="_blank">
      {children}
    </a>
  ),
};

/** Drop a leading "# Title" line when it repeats the title shown above it. */
export function stripTitle(markdown: string, title: string): string {
  const m = /^\s*#\s+(.+?)\s*#*\s*(\r?\n|$)/.exec(markdown);
  if (m && m[1].trim().toLowerCase() === title.trim().toLowerCase()) return markdown.slice(m[0].length);
  return markdown;
}

export default function Article({ result }: { result: ArticleResult }) {
  const title = typeof result.title === 'string' ? result.title : 'Article';
  const markdown = typeof result.markdown === 'string' ? result.markdown : '';
  return (
    <article className="card article" aria-labelledby="article-title">
      <h2 id="article-title">{title}</h2>
      <p className="meta">
        {typeof result.words === 'number' && <span>{result.words} words</span>}
        {result.provider && <span>provider: {String(result.provider)}</span>}
      </p>
      <div className="markdown">
        <Markdown components={components} disallowedElements={['img']} skipHtml={false}>
          {stripTitle(markdown, title)}
        </Markdown>
      </div>
    </article>
  );
}
