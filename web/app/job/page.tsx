import type { Metadata } from 'next';
import { Suspense } from 'react';
import JobDetailPage from '@/components/JobDetailPage';

export const metadata: Metadata = { title: 'Job' };

export default function Page() {
  return (
    <Suspense fallback={<h1>Job</h1>}>
      <JobDetailPage />
    </Suspense>
  );
}
