/** huddle's domain model: the shapes every layer shares. Imports nothing of the project. */
export * from './message.js';
export * from './chat.js';
export * from './user.js';
export * from './quota.js';
export * from './errors.js';
