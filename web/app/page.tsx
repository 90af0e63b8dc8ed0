import { Suspense } from 'react';
import GeneratePage from '@/components/GeneratePage';

export default function Page() {
  return (
    <Suspense fallback={<h1>Generate an article</h1>}>
      <GeneratePage />
    </Suspense>
  );
}
