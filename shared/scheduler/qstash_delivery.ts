/**
 * How the scheduler reaches QStash, from the app's configuration: the
 * publisher (null when `QSTASH_TOKEN` is unset) and the public URL of the
 * callback that QStash calls for each fire time.
 */
import type { AppConfig } from "../app/deps.ts";
import { createQstashPublisher, type QstashPublisher } from "../qstash/publish.ts";

/** The QStash publisher for this configuration, or null when the integration is off. */
export function qstashPublisher(config: AppConfig): QstashPublisher | null {
  if (!config.qstash?.token) return null;
  return createQstashPublisher({ token: config.qstash.token, baseUrl: config.qstash.url });
}

/** Path of the QStash callback for one schedule's fire times. */
export function firePath(scheduleId: string): string {
  return `/trigger/schedules/${scheduleId}/fire`;
}

/**
 * Schedule delivery through QStash, when it can work: it needs a publisher
 * and a public URL for QStash to call back. Otherwise the tick creates the
 * runs itself (the default, and still exact to the second).
 */
export function scheduleDelivery(
  config: AppConfig,
  publisher: QstashPublisher | null,
): { publisher: QstashPublisher; fireUrl: (scheduleId: string) => string } | undefined {
  if (!publisher || !config.publicUrl) return undefined;
  const base = config.publicUrl.replace(/\/+$/, "");
  return { publisher, fireUrl: (id) => `${base}${firePath(id)}` };
}
