/**
 * Which corpus a CLI command opens: `--store postgres://…`, else `--data DIR`, else
 * RAGSPEC_DATABASE_URL (the replicas' shared database), else the default folder.
 */
import { isPostgresUrl, type StoreTarget } from '../retrieval/index.ts';
import { URL_HINT } from '../retrieval/pg/connect.ts';
import { RagspecError } from '../util/errors.ts';
import { paths } from '../util/paths.ts';

export const STORE_FLAG_HELP =
  'PostgreSQL corpus shared by replicas, postgres://USER:PASSWORD@HOST:5432/DB (default: RAGSPEC_DATABASE_URL when set and --data is not given)';

/** --store URL, else --data DIR, else RAGSPEC_DATABASE_URL, else the default folder. */
export function cliStoreTarget(o: { store?: string; data?: string }): StoreTarget {
  if (o.store !== undefined) {
    if (!isPostgresUrl(o.store))
      throw new RagspecError(`--store takes a PostgreSQL URL (got "${o.store.slice(0, 60)}")`, {
        code: 'bad_flag',
        kind: 'bad_input',
        hint: `${URL_HINT}; for a folder use --data`,
      });
    if (o.data !== undefined)
      throw new RagspecError('--store and --data name two different corpora', {
        code: 'bad_flag',
        kind: 'bad_input',
        hint: 'give one of them',
      });
    return { kind: 'postgres', url: o.store };
  }
  const env = process.env.RAGSPEC_DATABASE_URL;
  if (o.data === undefined && env) return { kind: 'postgres', url: env };
  return { kind: 'sqlite', dir: o.data ?? paths.data() };
}
