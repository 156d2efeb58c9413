/** Every route berthd serves, in one router. */
import type { Engine } from '../engine/engine.js';
import type { DaemonFacts } from '../engine/system/system-info.js';
import { Router } from './router.js';
import { registerBuildRoutes } from './routes/build.js';
import { registerContainerStreamRoutes, registerExecRoutes } from './routes/container-streams.js';
import { registerContainerRoutes } from './routes/containers.js';
import { registerEventRoutes } from './routes/events.js';
import { registerImageRoutes } from './routes/images.js';
import { registerNetworkRoutes } from './routes/networks.js';
import { registerSystemRoutes } from './routes/system.js';
import { registerVolumeRoutes } from './routes/volumes.js';

export function buildRouter(engine: Engine, daemon: DaemonFacts): Router {
  const router = new Router();
  registerSystemRoutes(router, engine, daemon);
  registerImageRoutes(router, engine);
  registerEventRoutes(router, engine);
  registerContainerRoutes(router, engine);
  registerContainerStreamRoutes(router, engine);
  registerExecRoutes(router, engine);
  registerVolumeRoutes(router, engine);
  registerBuildRoutes(router, engine);
  registerNetworkRoutes(router, engine);
  return router;
}
