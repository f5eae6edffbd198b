// Marks a route with the right it needs: an action on the topic in the path (or body), or just a valid key.
import { SetMetadata } from '@nestjs/common';
import type { Action } from './api-keys';

export const REQUIRES = Symbol('requires');
/** `visible`: any right on the topic; `authenticated`: any valid key. */
export type Requirement = Action | 'visible' | 'authenticated';

export const Requires = (requirement: Requirement) => SetMetadata(REQUIRES, requirement);
