'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { signOut, useAuth } from '@/lib/auth';

const LINKS = [
  { href: '/', label: 'Generate' },
  { href: '/history/', label: 'History' },
  { href: '/dashboard/', label: 'Dashboard' },
];

const norm = (p: string) => (p.endsWith('/') ? p : `${p}/`);

export default function Nav() {
  const pathname = norm(usePathname() ?? '/');
  const { key } = useAuth();
  return (
    <nav aria-label="Main" className="nav">
      <Link href="/" className="brand">
        agentq
      </Link>
      <ul>
        {LINKS.map((l) => {
          const current = pathname === l.href || (l.href === '/history/' && pathname === '/job/');
          return (
            <li key={l.href}>
              <Link href={l.href} aria-current={current ? 'page' : undefined}>
                {l.label}
              </Link>
            </li>
          );
        })}
        <li>
          <a href="/docs">API</a>
        </li>
        {key && (
          <li>
            <button type="button" className="nav-button" onClick={signOut}>
              Sign out
            </button>
          </li>
        )}
      </ul>
    </nav>
  );
}
