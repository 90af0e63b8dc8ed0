import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import AuthGate from '@/components/AuthGate';
import Nav from '@/components/Nav';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'agentq', template: '%s · agentq' },
  description: 'A lightweight job queue for long-running AI-agent jobs',
};

export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <header className="site-header">
          <Nav />
        </header>
        <main id="main" tabIndex={-1}>
          <AuthGate>{children}</AuthGate>
        </main>
      </body>
    </html>
  );
}
