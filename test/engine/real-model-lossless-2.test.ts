// Part 2 of 2 of the real-model lossless check (see lossless-real.ts); the parts run in parallel.
import { describeLossless } from './lossless-real.ts';

describeLossless(1, 2);
