'use client';

import { useRouter, useSearchParams } from 'next/navigation';
import ArticleForm from './ArticleForm';
import JobFollower from './JobFollower';

export default function GeneratePage() {
  const params = useSearchParams();
  const router = useRouter();
  const jobId = params.get('job');

  return (
    <>
      <h1>Generate an article</h1>
      <p className="lead">
        An agent writes the article in the background; the bar follows its progress. You can leave and come back: the
        address keeps the job.
      </p>
      <ArticleForm onSubmitted={(job) => router.push(`/?job=${encodeURIComponent(job.id)}`)} />
      {jobId && <JobFollower key={jobId} id={jobId} />}
    </>
  );
}
